"""`otel-ai-cost alerts`: budget rules from a budgets file, Grafana copies of Prometheus rules.

Run as a subprocess of the installed console script, as a user runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

CLI = shutil.which("otel-ai-cost", path=os.path.dirname(sys.executable)) or "otel-ai-cost"
REPO = Path(__file__).resolve().parents[1]
ALERTS = REPO / "dashboards" / "alerts"


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "alerts", *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def budgets_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("command", "committed"),
    [
        (["grafana", "dashboards/alerts/ai-cost.rules.yaml"], "ai-cost.grafana.yaml"),
        (["budgets", "dashboards/alerts/budgets.example.yaml"], "budgets.rules.yaml"),
        (["budgets", "dashboards/alerts/budgets.example.yaml", "--format", "grafana"], "budgets.grafana.yaml"),
    ],
)
def test_committed_generated_files_are_up_to_date(command: list[str], committed: str) -> None:
    result = run(*command)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ALERTS / committed).read_text(), (
        f"regenerate with: otel-ai-cost alerts {' '.join(command)}"
    )


@pytest.mark.parametrize(
    ("prometheus", "grafana"),
    [("ai-cost.rules.yaml", "ai-cost.grafana.yaml"), ("budgets.rules.yaml", "budgets.grafana.yaml")],
)
def test_grafana_rules_have_the_prometheus_expressions(prometheus: str, grafana: str) -> None:
    source = yaml.safe_load((ALERTS / prometheus).read_text())
    copy = yaml.safe_load((ALERTS / grafana).read_text())
    assert copy["apiVersion"] == 1
    originals = [rule for group in source["groups"] for rule in group["rules"]]
    converted = [rule for group in copy["groups"] for rule in group["rules"]]
    assert len(originals) == len(converted)
    for original, rule in zip(originals, converted, strict=True):
        query, condition = rule["data"]
        assert query["model"]["expr"] == original["expr"]
        assert query["model"]["instant"] is True and query["datasourceUid"] == "prometheus"
        assert condition["datasourceUid"] == "__expr__" and condition["model"]["expression"] == "A"
        assert rule["condition"] == "B" and rule["noDataState"] == "OK"
        assert rule["for"] == original.get("for", "0s")
        assert rule["labels"] == original.get("labels", {})
        assert set(rule["annotations"]) == set(original["annotations"]) >= {"summary", "description", "runbook"}
        for text in rule["annotations"].values():
            assert not re.search(r"\$value\b", text), text  # Grafana names it $values.A.Value
    uids = [rule["uid"] for rule in converted]
    titles = [rule["title"] for rule in converted]
    assert len(set(uids)) == len(uids) and len(set(titles)) == len(titles)
    assert all(re.fullmatch(r"[a-zA-Z0-9-]{1,40}", uid) for uid in uids), uids


def test_budget_rules_for_two_tags_and_no_warning(tmp_path: Path) -> None:
    path = budgets_file(
        tmp_path,
        'budgets:\n  - name: lab\n    tags: {team: research, environment: "prod \\"eu\\""}\n'
        "    usd: 12.5\n    period: 7d\n    warn_at: null\n",
    )
    result = run("budgets", str(path))
    assert result.returncode == 0, result.stderr
    rules = yaml.safe_load(result.stdout)["groups"][0]["rules"]
    assert [rule["alert"] for rule in rules] == ["AICostBudgetExceeded"]
    assert rules[0]["expr"] == (
        'sum(increase(gen_ai_client_cost_USD_total{ai_cost_team="research", ai_cost_environment="prod \\"eu\\""}[7d]))'
        " > 12.5"
    )
    assert rules[0]["labels"] == {
        "severity": "critical",
        "ai_cost_team": "research",
        "ai_cost_environment": 'prod "eu"',
        "budget": "lab",
    }
    assert "12.5 USD per 7d" in rules[0]["annotations"]["summary"]


def test_output_file_and_its_summary_line(tmp_path: Path) -> None:
    out = tmp_path / "rules.yaml"
    result = run("budgets", "dashboards/alerts/budgets.example.yaml", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == f"{out}: 5 alert rule(s)"
    document: dict[str, Any] = yaml.safe_load(out.read_text())
    assert len(document["groups"][0]["rules"]) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "budgets:\n  - tags: {team: search}\n    usd: -5\n",
            "1 invalid field(s); budgets[0] (tags={'team': 'search'}) field usd: Input should be greater than 0",
        ),
        ("budgets:\n  - tags: {Team Name: search}\n    usd: 5\n", "'Team Name' is not a tag dimension"),
        ("budgets:\n  - tags: {untagged: x}\n    usd: 5\n", "'untagged' is not a tag dimension"),
        ("budgets:\n  - usd: 5\n", "budgets[0] field tags: Field required"),
        ("budgets:\n  - tags: {team: a}\n    usd: 5\n    period: 1 day\n", "'1 day' is not a Prometheus duration"),
        ("budgets:\n  - tags: {team: a}\n    usd: 5\n    warn_at: 1.5\n", "field warn_at:"),
        ("budgets:\n  - tags: {team: a}\n    usd: 5\n    limit: 3\n", "field limit: Extra inputs"),
        ("budgets: []\n", "field budgets: Value error, give at least one budget"),
        (
            "budgets:\n  - {tags: {team: search}, usd: 50}\n  - {tags: {team: search}, usd: 1000, period: 30d}\n",
            "budgets[1] is named 'search' like budgets[0]: give each a `name`",
        ),
        ("- just a list\n", "expected a mapping with budgets"),
        ("budgets: [\n", "not valid YAML"),
    ],
)
def test_bad_budgets_file_is_one_line_naming_entry_and_field(tmp_path: Path, text: str, message: str) -> None:
    result = run("budgets", str(budgets_file(tmp_path, text)))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_and_recording_rules_are_clear_errors(tmp_path: Path) -> None:
    missing = run("budgets", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    recording = tmp_path / "recording.rules.yaml"
    recording.write_text("groups:\n  - name: g\n    rules:\n      - record: x:sum\n        expr: sum(x)\n")
    result = run("grafana", str(recording))
    assert result.returncode == 2
    assert "recording rule 'x:sum' is not an alert" in result.stderr
