"""Dashboards and alert rules against a real Prometheus that scraped the package's own metrics.

A renamed metric or label, a query that does not parse, a panel that comes back empty or NaN, or
a rule that errors fails here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from .conftest import Stack

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))
RULE_FILES = sorted((REPO / "dashboards" / "alerts").glob("*.rules.yaml"))

# What Grafana would put in place of its variables for the test's time range: every filter on All.
GRAFANA_VALUES = {
    "__rate_interval": "10s",
    "__interval": "5s",
    "__range": "1h",
    "__range_s": "3600",
    "datasource": "prometheus",
    "commitment_usd_per_month": "50",
}
FILTERS = ("team", "feature", "environment", "provider", "model")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_METRIC = re.compile(r"\b((?:gen_ai|ai_cost)_[a-zA-Z0-9_]+)\b")
_GROUPING = re.compile(r"\b(?:by|on|ignoring)\s*\(([^)]*)\)")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
# Operators and keywords that look like label names in the regexes above.
_NOT_LABELS = {"by", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", ""}


def grafana_substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return ".*" if name in FILTERS else GRAFANA_VALUES[name]

    return _VARIABLE.sub(value, expr)


def dashboard_targets() -> Iterator[Any]:
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        panels = list(dashboard["panels"])
        while panels:
            panel = panels.pop(0)
            panels.extend(panel.get("panels", []))  # collapsed rows hold their panels
            for target in panel.get("targets", []):
                yield pytest.param(panel, target, id=f"{path.stem}: {panel['title']} [{target['refId']}]")


def rule_expressions() -> Iterator[Any]:
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for index, rule in enumerate(group["rules"]):
                yield pytest.param(rule["expr"], id=f"{path.name}: {rule.get('alert') or rule.get('record')} {index}")


def metrics_used(expr: str) -> set[str]:
    without_labels = _GROUPING.sub("", re.sub(r"\{[^}]*\}", "", expr))
    return set(_METRIC.findall(without_labels))


def labels_used(expr: str) -> set[str]:
    names = {name.strip() for group in _GROUPING.findall(expr) for name in group.split(",")}
    names |= set(_MATCHER.findall(expr))
    return names - _NOT_LABELS


def test_the_workload_ran_and_dashboards_exist(stack: Stack) -> None:
    assert len(DASHBOARDS) == 3, DASHBOARDS
    assert stack.totals["requests"] == 30 * 11


def test_counters_in_prometheus_equal_the_span_costs(stack: Stack) -> None:
    answer = stack.query("sum by (ai_cost_team) (gen_ai_client_cost_USD_total)")
    in_prometheus = {sample["metric"]["ai_cost_team"]: float(sample["value"][1]) for sample in answer["data"]["result"]}
    expected = stack.totals["cost_by_team"]
    assert set(in_prometheus) == set(expected) == {"search", "support", "marketing", "untagged"}
    for team, cost in expected.items():
        assert in_prometheus[team] == pytest.approx(cost, rel=1e-9), team


def test_workflow_metrics_in_prometheus_equal_the_workflow_spans(stack: Stack) -> None:
    answer = stack.query("sum by (ai_cost_workflow_name) (ai_cost_workflow_cost_USD_sum)")
    in_prometheus = {s["metric"]["ai_cost_workflow_name"]: float(s["value"][1]) for s in answer["data"]["result"]}
    expected = stack.totals["cost_by_workflow"]
    assert set(in_prometheus) == set(expected) == {"support-reply", "lab-run"}
    for name, cost in expected.items():
        assert in_prometheus[name] == pytest.approx(cost, rel=1e-9), name
    assert expected["support-reply"] > 0
    runs = stack.query("sum by (ai_cost_workflow_name, ai_cost_workflow_outcome) (ai_cost_workflow_runs_total)")
    by_outcome = {
        (s["metric"]["ai_cost_workflow_name"], s["metric"]["ai_cost_workflow_outcome"]): float(s["value"][1])
        for s in runs["data"]["result"]
    }
    assert by_outcome == {("support-reply", "success"): 30, ("lab-run", "needs_review"): 30}


def test_provisioned_requests_cost_nothing_and_count_their_pay_as_you_go_price(stack: Stack) -> None:
    def total(metric: str) -> float:
        answer = stack.query(f'sum({metric}{{ai_cost_commitment="provisioned"}})')
        return float(answer["data"]["result"][0]["value"][1])

    assert total("gen_ai_client_cost_USD_total") == 0.0
    # 30 PTU requests x (179 x 2.50 + 1664 x 1.25 + 19 x 10 = 2717.5 per 1M) = 0.081525
    assert total("ai_cost_list_cost_USD_total") == pytest.approx(0.081525, rel=1e-9)


@pytest.mark.parametrize(("panel", "target"), list(dashboard_targets()))
def test_every_panel_returns_data_with_its_labels(stack: Stack, panel: dict[str, Any], target: dict[str, Any]) -> None:
    expr = grafana_substitute(target["expr"])
    # Just before the workload stopped, so the rate windows hold traffic.
    answer = stack.query(expr, at=stack.totals["finished_at"] - 1)
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    assert result, f"no data for {expr}"
    for sample in result:
        assert math.isfinite(float(sample["value"][1])), sample
    legend_labels = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
    grouping = _BY.search(expr)
    expected = legend_labels | ({name.strip() for name in grouping.group(1).split(",")} if grouping else set())
    for label in expected - _NOT_LABELS:
        assert any(sample["metric"].get(label) for sample in result), f"{label} missing from {expr}: {result}"


def test_variables_offer_the_values_the_workload_recorded(stack: Stack) -> None:
    expected = {
        "team": {"search", "support", "marketing", "research", "untagged"},
        "feature": {"answers", "chatbot", "campaign-images"},
        "environment": {"production"},
        "provider": {"openai", "anthropic"},
        "model": {"o4-mini", "claude-sonnet-4-5", "dall-e-3", "gpt-image-1"},
    }
    for path in DASHBOARDS:
        for variable in json.loads(path.read_text())["templating"]["list"]:
            if variable["name"] not in expected:
                continue
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query.strip())
            assert match, query
            metric, label = match.groups()
            values = set(stack.get(f"/api/v1/label/{label}/values", **{"match[]": metric})["data"])
            assert expected[variable["name"]] - {"research"} <= values, (path.name, variable["name"], values)


@pytest.mark.parametrize("expr", list(rule_expressions()))
def test_every_rule_parses_and_uses_metrics_and_labels_that_exist(stack: Stack, expr: str) -> None:
    answer = stack.query(expr)
    assert answer["status"] == "success", answer
    metric_names = set(stack.get("/api/v1/label/__name__/values")["data"])
    label_names = set(stack.get("/api/v1/labels")["data"])
    for metric in metrics_used(expr):
        assert metric in metric_names, f"{metric} is not a metric Prometheus scraped"
    for label in labels_used(expr):
        assert label in label_names, f"{label} is not a label Prometheus has"


def test_prometheus_evaluates_every_rule_without_error(stack: Stack) -> None:
    groups = stack.get("/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    shipped = yaml.safe_load((REPO / "dashboards/alerts/ai-cost.rules.yaml").read_text())["groups"][0]["rules"]
    assert {rule["alert"] for rule in shipped} <= {rule["name"] for rule in rules}
    for rule in rules:
        assert rule["health"] == "ok", rule
        assert not rule.get("lastError"), rule


def test_alerts_fire_from_the_package_metrics(stack: Stack) -> None:
    alerts = stack.get("/api/v1/alerts")["data"]["alerts"]

    def states(name: str, **labels: str) -> set[str]:
        return {
            alert["state"]
            for alert in alerts
            if alert["labels"]["alertname"] == name and all(alert["labels"].get(k) == v for k, v in labels.items())
        }

    # No `for`: a model nobody prices fires at once, as does the instrumentation's own error.
    assert states("AICostUnpricedModel", gen_ai_request_model="mystery-model-x") == {"firing"}
    assert states("AICostInstrumentationErrors", ai_cost_error_where="record") == {"firing"}
    # Search spent 30 x 0.0062329 USD > its 0.01 USD test budget; marketing is far under 1000 USD.
    # Both wait out `for: 5m`, so pending.
    assert states("AICostBudgetExceeded", ai_cost_team="search") == {"pending"}
    assert states("AICostBudgetExceeded", ai_cost_team="marketing") == set()
    # 1 of the 9 OpenAI requests a round is a 429: 11% > 10%, and more than 10 in 5 min.
    assert states("AICostErrorBurst", gen_ai_provider_name="openai") == {"pending"}
    # Untagged spend is 1.4% of the total (under 5%); no day of history for a spike; no week for creep.
    assert states("AICostUntaggedSpend") == set()
    assert states("AICostSpendSpike") == set()
    assert states("AICostTokenCreep") == set()


def runbook_queries() -> Iterator[Any]:
    for group in yaml.safe_load((REPO / "dashboards/alerts/ai-cost.rules.yaml").read_text())["groups"]:
        for rule in group["rules"]:
            for query in re.findall(r"`([^`]*\b(?:gen_ai|ai_cost)_\w+[^`]*)`", rule["annotations"].get("runbook", "")):
                yield pytest.param(query, id=f"{rule['alert']}: {query}")


@pytest.mark.parametrize("query", list(runbook_queries()))
def test_runbook_queries_return_data_with_their_labels(stack: Stack, query: str) -> None:
    """A query a runbook tells the on-call to run works on the package's metrics (the untagged workload)."""
    answer = stack.query(query, at=stack.totals["finished_at"] - 1)
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    assert result, f"no data for {query}"
    grouping = _BY.search(query)
    for label in {name.strip() for name in grouping.group(1).split(",")} if grouping else set():
        assert all(sample["metric"].get(label) for sample in result), f"{label} missing from {query}: {result}"
