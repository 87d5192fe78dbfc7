"""The Prometheus alert rules, checked and unit-tested with promtool (from the Debian package prometheus).

tests/alerting/ai-cost.rules.test.yaml holds the unit tests: each alert of dashboards/alerts/ai-cost.rules.yaml
fires when it should and stays silent for steady traffic, cold starts and tiny amounts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "dashboards" / "alerts"
RULES = ALERTS / "ai-cost.rules.yaml"
UNIT_TESTS = Path(__file__).parent / "ai-cost.rules.test.yaml"
RULE_FILES = sorted(ALERTS.glob("*.rules.yaml"))


def promtool(binary: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run promtool with these arguments from the repository root."""
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=REPO, check=False)


def report(result: subprocess.CompletedProcess[str]) -> str:
    """promtool's command line, exit status and output, for assertion messages."""
    return f"{' '.join(result.args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as file:
        return yaml.safe_load(file)


def alert_names() -> list[str]:
    """Alerts defined in ai-cost.rules.yaml, in file order."""
    return [rule["alert"] for group in load(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def alert_rule_tests(unit_tests: dict[str, Any]) -> list[dict[str, Any]]:
    return [case for group in unit_tests["tests"] for case in group.get("alert_rule_test") or []]


def test_rule_files_are_found() -> None:
    assert RULES in RULE_FILES, f"{RULES} is missing from {ALERTS}"


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_promtool_check_rules(promtool_path: str, rule_file: Path) -> None:
    result = promtool(promtool_path, "check", "rules", rule_file)
    assert result.returncode == 0, report(result)


def test_promtool_unit_tests_pass(promtool_path: str) -> None:
    result = promtool(promtool_path, "test", "rules", UNIT_TESTS)
    assert result.returncode == 0, report(result)
    assert "SUCCESS" in result.stdout, report(result)


def test_unit_tests_load_the_shipped_rules() -> None:
    unit_tests = load(UNIT_TESTS)
    loaded = [(UNIT_TESTS.parent / path).resolve() for path in unit_tests["rule_files"]]
    assert loaded == [RULES]


def test_every_alert_is_tested_firing_and_silent() -> None:
    alerts = alert_names()
    assert len(alerts) == len(set(alerts)), f"duplicate alert names: {alerts}"
    cases = alert_rule_tests(load(UNIT_TESTS))
    # promtool passes a test of a misspelled alert name that expects silence, so names are checked here.
    unknown = sorted({case["alertname"] for case in cases} - set(alerts))
    assert not unknown, f"unit tests name alerts that ai-cost.rules.yaml does not define: {unknown}"
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    never_firing = [alert for alert in alerts if alert not in firing]
    assert not never_firing, f"no alert_rule_test expects these alerts to fire: {never_firing}"
    never_silent = [alert for alert in alerts if alert not in silent]
    assert not never_silent, f"no alert_rule_test expects these alerts to stay silent: {never_silent}"


def test_unit_tests_fail_when_a_threshold_changes(promtool_path: str, tmp_path: Path) -> None:
    """Meta-test: the AICostUntaggedSpend tests pass on a copy of the rules and fail once its 5% becomes 50%."""
    rules = RULES.read_text(encoding="utf-8")
    assert rules.count(") > 0.05") == 1, "the AICostUntaggedSpend threshold is no longer `) > 0.05`"
    original = tmp_path / "original.rules.yaml"
    original.write_text(rules, encoding="utf-8")
    mutated = tmp_path / "mutated.rules.yaml"
    mutated.write_text(rules.replace(") > 0.05", ") > 0.50"), encoding="utf-8")

    # Only the test groups of that alert: the whole file takes tens of seconds.
    unit_tests = load(UNIT_TESTS)
    unit_tests["tests"] = [
        group
        for group in unit_tests["tests"]
        if any(case["alertname"] == "AICostUntaggedSpend" for case in group.get("alert_rule_test") or [])
    ]
    assert unit_tests["tests"], "no test group for AICostUntaggedSpend"

    def run_against(rule_file: Path) -> subprocess.CompletedProcess[str]:
        test_file = tmp_path / f"{rule_file.stem}.test.yaml"
        test_file.write_text(yaml.safe_dump({**unit_tests, "rule_files": [str(rule_file)]}), encoding="utf-8")
        return promtool(promtool_path, "test", "rules", test_file)

    control = run_against(original)
    assert control.returncode == 0, report(control)
    broken = run_against(mutated)
    assert broken.returncode != 0, f"the unit tests did not notice the changed threshold\n{report(broken)}"
    assert "alertname: AICostUntaggedSpend" in broken.stderr, report(broken)
