"""What a budgets file may say is what Prometheus and Grafana accept: a period, an amount, a name or a
tag value that the generated rules cannot carry is refused when the file is read, naming the entry and
the field, by `otel-ai-cost alerts budgets` and by the process (OTEL_AI_COST_BUDGETS_FILE) alike.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from otel_ai_cost.budgets import load_tag_budgets

CLI = shutil.which("otel-ai-cost", path=os.path.dirname(sys.executable)) or "otel-ai-cost"


def budgets_file(tmp_path: Path, entry: str) -> Path:
    """A file whose second budget is `entry` (YAML flow mapping items); the first one is valid."""
    path = tmp_path / "budgets.yaml"
    path.write_text(f"budgets:\n  - {{tags: {{team: ok}}, usd: 1}}\n  - {{{entry}}}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("period", ["1h30m", "500ms", "1y2w3d4h5m6s7ms", "292y"])
def test_a_period_accepted_is_one_promtool_accepts(tmp_path: Path, promtool_path: str, period: str) -> None:
    rules = tmp_path / "budgets.rules.yaml"
    generated = subprocess.run(
        [CLI, "alerts", "budgets", str(budgets_file(tmp_path, f"tags: {{team: a}}, usd: 5, period: {period}")), "-o"]
        + [str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert generated.returncode == 0, generated.stderr
    checked = subprocess.run([promtool_path, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "tags: {team: a}, usd: 5, period: 0d",
            "field period: Value error, '0d' is no time: give a period greater than 0",
        ),
        ("tags: {team: a}, usd: 5, period: 0s", "'0s' is no time"),
        ("tags: {team: a}, usd: 5, period: 1h1h", "field period: Value error, '1h1h' is not a Prometheus duration"),
        ("tags: {team: a}, usd: 5, period: 30m1h", "'30m1h' is not a Prometheus duration"),
        ("tags: {team: a}, usd: 5, period: 293y", "'293y' is longer than Prometheus allows (292y)"),
        ("tags: {team: a}, usd: .inf", "field usd: Input should be a finite number"),
        ("name: 'a{{x}}', tags: {team: a}, usd: 5", "field name: Value error, 'a{{x}}' contains '{{'"),
        ("tags: {team: 'a{{x}}'}, usd: 5", "field tags: Value error, 'a{{x}}' contains '{{'"),
    ],
)
def test_what_the_rules_cannot_carry_is_refused_naming_entry_and_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, entry: str, message: str
) -> None:
    path = budgets_file(tmp_path, entry)
    result = subprocess.run([CLI, "alerts", "budgets", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "budgets[1] (" in result.stderr and message in result.stderr

    with caplog.at_level(logging.ERROR):
        assert load_tag_budgets(str(path)) == ()
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and "budgets[1] (" in logged[0] and message in logged[0]
