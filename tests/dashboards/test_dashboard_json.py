"""Static checks of the Grafana dashboards in dashboards/*.json (no Grafana server needed).

Each check is a function that returns a list of problems, so the same functions are run on the shipped
dashboards (which must have none) and on deliberately broken copies (which must be reported).
The queries themselves are run against a real Prometheus in tests/stack/.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"

Dashboard = dict[str, Any]
Panel = dict[str, Any]

EXPECTED: dict[str, dict[str, Any]] = {
    "ai-cost-overview.json": {
        "uid": "ai-cost-overview",
        "title": "AI cost: overview",
        "panels": {
            "Spend today",
            "Month to date",
            "30-day forecast",
            "Cost per request",
            "Spend rate by provider and model (USD per hour)",
            "Top teams",
            "Spend rate by team (USD per hour)",
        },
    },
    "ai-cost-chargeback.json": {
        "uid": "ai-cost-chargeback",
        "title": "AI cost: chargeback",
        "panels": {
            "Spend in range",
            "Untagged share",
            "Untagged spend",
            "Chargeback: team x feature x environment x cost center",
            "Unpriced requests",
            "Daily spend by team",
            "Commitment break-even",
        },
    },
    "ai-cost-efficiency.json": {
        "uid": "ai-cost-efficiency",
        "title": "AI cost: efficiency",
        "panels": {
            "Tokens per request",
            "Tokens by type (per second)",
            "Cache hit ratio",
            "Savings from caching and batch",
            "Reasoning share of output tokens",
            "Error rate by provider",
            "Images by size and quality",
            "Cost per successful outcome",
            "Workflow runs by outcome",
        },
    },
}

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
COST = "gen_ai_client_cost_USD_total"
REQUESTS = "ai_cost_requests_total"
TOKENS = "ai_cost_tokens_total"
SAVINGS = "ai_cost_savings_USD_total"
LIST_COST = "ai_cost_list_cost_USD_total"
UNPRICED = "ai_cost_unpriced_total"
IMAGES = "ai_cost_images_total"

# variable name -> (label, Prometheus label it lists); also the filter every selector must carry. The values come
# from the request counter, which counts every request (priced or not, failed too), not from the cost counter.
FILTERS: dict[str, tuple[str, str]] = {
    "team": ("Team", "ai_cost_team"),
    "feature": ("Feature", "ai_cost_feature"),
    "environment": ("Environment", "ai_cost_environment"),
    "provider": ("Provider", "gen_ai_provider_name"),
    "model": ("Model", "gen_ai_request_model"),
}
# Textbox variables a dashboard may add after the filters: name -> dashboard.
SETTINGS_VARIABLES = {"commitment_usd_per_month": "ai-cost-chargeback"}
ALLOWED_VARIABLES = {*FILTERS, *SETTINGS_VARIABLES, "__range", "__range_s", "__rate_interval", "__interval"}
PANEL_TYPES = {"stat", "timeseries", "table", "bargauge", "barchart", "row"}
PER_REQUEST_TITLES = {"Cost per request", "Tokens per request", "Cost per successful outcome"}
GRID_COLUMNS = 24

_METRIC_NAME = re.compile(r"\b(?:gen_ai|ai_cost)_[A-Za-z0-9_]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^}]*\}")
_CLAUSE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_SELECTOR = re.compile(r"\b((?:gen_ai|ai_cost)_[A-Za-z0-9_]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*')
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_TIMES_OR_BY_100 = re.compile(r"[*/]\s*100(?:\.0*)?(?![\d.])")
_TIMES_3600 = re.compile(r"\*\s*3600(?![\d.])")


# ---------------------------------------------------------------- helpers


def load(name: str) -> Dashboard:
    dashboard: Dashboard = json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))
    return dashboard


def all_panels(dashboard: Dashboard) -> Iterator[Panel]:
    """Every panel, including those held by (collapsed) rows."""
    pending = list(dashboard.get("panels", []))
    while pending:
        panel = pending.pop(0)
        pending.extend(panel.get("panels", []))
        yield panel


def _mask(expr: str, pattern: re.Pattern[str], keep_ends: bool = False) -> str:
    """Blank out the matches of pattern (same length, so positions still line up with expr)."""

    def blank(match: re.Match[str]) -> str:
        text = match.group(0)
        if keep_ends and len(text) >= 2:
            return text[0] + " " * (len(text) - 2) + text[-1]
        return " " * len(text)

    return pattern.sub(blank, expr)


def _masked(expr: str) -> str:
    """expr with string literals, label matchers (braces kept) and by/on/ignoring(...) clauses blanked."""
    masked = _mask(expr, _STRING, keep_ends=True)
    masked = _mask(masked, _BRACES, keep_ends=True)
    return _mask(masked, _CLAUSE)


def parse_matchers(body: str) -> list[tuple[str, str, str]] | None:
    """The label matchers of a selector body, as (label, operator, value); None when it does not parse."""
    if not body.strip():
        return []
    matchers = []
    for part in _split_top_level_commas(body):
        match = _MATCHER.fullmatch(part)
        if not match:
            return None
        label, operator, quoted = match.groups()
        matchers.append((label, operator, json.loads(quoted)))
    return matchers


def _split_top_level_commas(body: str) -> list[str]:
    parts, start, in_string, escaped = [], 0, False, False
    for index, char in enumerate(body):
        if in_string:
            escaped = not escaped and char == "\\"
            if char == '"' and not escaped:
                in_string = False
        elif char == '"':
            in_string = True
        elif char == ",":
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    return [part for part in parts if part.strip()]


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(metric, matchers) of every otel-ai-cost metric selector written with braces."""
    found = []
    for match in _SELECTOR.finditer(expr):
        matchers = parse_matchers(match.group(2))
        found.append((match.group(1), matchers if matchers is not None else []))
    return found


def _filter_matchers() -> set[tuple[str, str, str]]:
    return {(label, "=~", f"${name}") for name, (_, label) in FILTERS.items()}


def _signature(text: str) -> frozenset[tuple[str, frozenset[tuple[str, str, str]]]]:
    """What a side of a division counts: metrics with their matchers beyond the dashboard filters."""
    filters = _filter_matchers()
    return frozenset((metric, frozenset(set(matchers) - filters)) for metric, matchers in selectors(text))


def divisions(expr: str) -> list[tuple[str, str]]:
    """(numerator, denominator) text of every `/`, each side bounded by the parentheses around the `/`."""
    masked = _mask(expr, _STRING, keep_ends=True)
    masked = _mask(masked, _BRACES, keep_ends=True)
    masked = re.sub(r"\[[^\]]*\]", lambda m: " " * len(m.group(0)), masked)
    result = []
    for index, char in enumerate(masked):
        if char != "/":
            continue
        depth, start = 0, 0
        for back in range(index - 1, -1, -1):
            if masked[back] == ")":
                depth += 1
            elif masked[back] == "(":
                if depth == 0:
                    start = back + 1
                    break
                depth -= 1
        depth, end = 0, len(masked)
        for forward in range(index + 1, len(masked)):
            if masked[forward] == "(":
                depth += 1
            elif masked[forward] == ")":
                if depth == 0:
                    end = forward
                    break
                depth -= 1
        result.append((expr[start:index], expr[index + 1 : end]))
    return result


def is_ratio(expr: str) -> bool:
    """A division of sums of different metrics, or of one metric with different matchers (token types...)."""
    for numerator, denominator in divisions(expr):
        top, bottom = _signature(numerator), _signature(denominator)
        if "sum" in numerator and "sum" in denominator and top and bottom and top != bottom:
            return True
    return False


def numerator_metrics(expr: str) -> set[str]:
    found = divisions(expr)
    text = found[0][0] if found else expr
    return {metric for metric, _ in selectors(text)}


def panel_unit(panel: Panel) -> str | None:
    unit: str | None = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    return unit


def all_units(panel: Panel) -> list[str]:
    field_config = panel.get("fieldConfig", {})
    units = [field_config.get("defaults", {}).get("unit")]
    for override in field_config.get("overrides", []):
        units += [prop.get("value") for prop in override.get("properties", []) if prop.get("id") == "unit"]
    return [unit for unit in units if unit is not None]


# ---------------------------------------------------------------- checkers (each returns a list of problems)


def check_layout(dashboard: Dashboard) -> list[str]:
    problems: list[str] = []
    ids = [panel.get("id") for panel in all_panels(dashboard)]
    duplicates = sorted({str(i) for i in ids if ids.count(i) > 1})
    if duplicates or None in ids:
        problems.append(f"panel ids must be set and unique, got {ids}")
    boxes: list[tuple[str, int, int, int, int]] = []
    for panel in all_panels(dashboard):
        title = panel.get("title", "?")
        grid = panel.get("gridPos", {})
        try:
            x, y, w, h = (int(grid[key]) for key in ("x", "y", "w", "h"))
        except (KeyError, TypeError, ValueError):
            problems.append(f"{title}: gridPos must have integer x, y, w, h: {grid}")
            continue
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            problems.append(f"{title}: gridPos {grid} is outside the {GRID_COLUMNS}-column grid")
        if panel.get("type") == "stat" and (y != 0 or h != 4):
            problems.append(f"{title}: stat panels go in the top row (y 0, h 4), got {grid}")
        for other, ox, oy, ow, oh in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                problems.append(f"{title}: gridPos {grid} overlaps {other}")
        boxes.append((title, x, y, w, h))
    return problems


def check_variables(dashboard: Dashboard) -> list[str]:
    problems: list[str] = []
    variables = dashboard.get("templating", {}).get("list", [])
    names = [variable.get("name") for variable in variables]
    for variable in variables:
        if variable.get("name") in SETTINGS_VARIABLES and variable.get("type") != "textbox":
            problems.append(f"variable {variable.get('name')}: must be a textbox, got {variable.get('type')!r}")
    if names[: len(FILTERS) + 1] != ["datasource", *FILTERS] or not set(names[len(FILTERS) + 1 :]) <= set(
        SETTINGS_VARIABLES
    ):
        problems.append(f"variables must be datasource, {', '.join(FILTERS)} in this order, got {names}")
    by_name = {variable.get("name"): variable for variable in variables}
    datasource = by_name.get("datasource", {})
    if (datasource.get("type"), datasource.get("query"), datasource.get("label")) != (
        "datasource",
        "prometheus",
        "Data source",
    ):
        problems.append(f"datasource variable must be a Prometheus data source picker: {datasource}")
    for name, (label, prom_label) in FILTERS.items():
        variable = by_name.get(name)
        if variable is None:
            continue
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        expected_query = f"label_values({REQUESTS}, {prom_label})"
        if query != expected_query:
            problems.append(f"variable {name}: query must be {expected_query!r}, got {query!r}")
        if variable.get("definition", expected_query) != expected_query:
            problems.append(f"variable {name}: definition {variable.get('definition')!r} differs from its query")
        expected = {
            "type": "query",
            "label": label,
            "datasource": DATASOURCE,
            "multi": True,
            "includeAll": True,
            "allValue": ".*",
            "refresh": 2,
            "sort": 1,
        }
        for key, value in expected.items():
            if variable.get(key) != value:
                problems.append(f"variable {name}: {key} must be {value!r}, got {variable.get(key)!r}")
        current = variable.get("current", {})
        if "$__all" not in json.dumps(current.get("value")):
            problems.append(f"variable {name}: current must be All, got {current}")
    return problems


def check_datasources(dashboard: Dashboard) -> list[str]:
    problems: list[str] = []
    for panel in all_panels(dashboard):
        if panel.get("type") == "row":
            continue
        title = panel.get("title", "?")
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"{title}: panel datasource must be {DATASOURCE}, got {panel.get('datasource')}")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"{title}: panel has no targets")
        ref_ids = [target.get("refId") for target in targets]
        if None in ref_ids or "" in ref_ids or len(set(ref_ids)) != len(ref_ids):
            problems.append(f"{title}: every target needs a unique refId, got {ref_ids}")
        for target in targets:
            if target.get("datasource") != DATASOURCE:
                problems.append(f"{title}: target datasource must be {DATASOURCE}, got {target.get('datasource')}")
            if not isinstance(target.get("expr"), str) or not target["expr"].strip():
                problems.append(f"{title}: target {target.get('refId')} has no expr")
    return problems


def check_expr_filters(expr: str) -> list[str]:
    """Every otel-ai-cost metric selector carries all five filters, written `label=~"$variable"`."""
    problems: list[str] = []
    masked = _masked(expr)
    for match in _METRIC_NAME.finditer(masked):
        rest = masked[match.end() :].lstrip()
        if not rest.startswith("{"):
            problems.append(f"{match.group(0)} has no label matchers (no filters) in {expr}")
    for match in _SELECTOR.finditer(expr):
        metric, body = match.groups()
        matchers = parse_matchers(body)
        if matchers is None:
            problems.append(f"{metric}{{{body}}}: label matchers do not parse")
            continue
        for name, (_, label) in FILTERS.items():
            wanted = (label, "=~", f"${name}")
            if wanted not in matchers:
                problems.append(f'{metric}: filter {label}=~"${name}" is missing in {{{body}}}')
            elif sum(1 for matcher in matchers if matcher[0] == label) > 1:
                problems.append(f"{metric}: {label} is matched more than once in {{{body}}}")
    for match in _VARIABLE.finditer(expr):
        name = match.group(1) or match.group(2)
        if name not in ALLOWED_VARIABLES:
            problems.append(f"${name} is not one of the variables a query may use")
    return problems


def check_filters(dashboard: Dashboard) -> list[str]:
    return [
        f"{panel.get('title')}: {problem}"
        for panel in all_panels(dashboard)
        for target in panel.get("targets", [])
        for problem in check_expr_filters(target.get("expr", ""))
    ]


def check_panel_units(panel: Panel) -> list[str]:
    problems: list[str] = []
    title = panel.get("title", "?")
    exprs = [target.get("expr", "") for target in panel.get("targets", [])]
    unit = panel_unit(panel)
    if "percent" in all_units(panel):
        problems.append(f"{title}: unit 'percent' (0..100); ratios are 0..1 with 'percentunit'")
    for expr in exprs:
        if _TIMES_OR_BY_100.search(expr):
            problems.append(f"{title}: ratios stay 0..1, no '* 100' or '/ 100' in {expr}")
        per_hour = "per hour" in title.lower()
        if per_hour and not _TIMES_3600.search(expr):
            problems.append(f"{title}: says 'per hour' but does not multiply the per-second rate by 3600")
        if not per_hour and "3600" in expr:
            problems.append(f"{title}: multiplies by 3600 but the title does not say 'per hour'")
        ratio = is_ratio(expr)
        per_request = title in PER_REQUEST_TITLES
        if ratio and not per_request:
            if unit != "percentunit":
                problems.append(f"{title}: a ratio must use unit percentunit, got {unit!r}")
            continue
        if unit == "percentunit":
            problems.append(f"{title}: unit percentunit but the query is not a ratio of two sums")
        metrics = numerator_metrics(expr)
        if metrics and metrics <= {COST, SAVINGS, LIST_COST} and unit != "currencyUSD":
            problems.append(f"{title}: a USD figure must use unit currencyUSD, got {unit!r}")
        if metrics and metrics <= {TOKENS} and unit != "suffix: tokens":
            problems.append(f"{title}: a token figure must use unit 'suffix: tokens', got {unit!r}")
        if metrics and metrics <= {REQUESTS, UNPRICED, IMAGES} and unit != "short":
            problems.append(f"{title}: a request or image count must use unit short, got {unit!r}")
    return problems


def check_ratio_guards(dashboard: Dashboard) -> list[str]:
    """A ratio keeps only denominators above 0, so a quiet window shows No data rather than NaN (0/0) or +Inf."""
    problems: list[str] = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            if not is_ratio(expr):
                continue
            for _, denominator in divisions(expr):
                if not re.search(r">\s*0\s*\)\s*$", denominator):
                    problems.append(f"{panel.get('title')}: the denominator of a ratio must end with `> 0)`: {expr}")
    return problems


def check_units(dashboard: Dashboard) -> list[str]:
    return [problem for panel in all_panels(dashboard) for problem in check_panel_units(panel)]


def check_panels(dashboard: Dashboard) -> list[str]:
    problems: list[str] = []
    for panel in all_panels(dashboard):
        title = panel.get("title", "?")
        if panel.get("type") not in PANEL_TYPES:
            problems.append(f"{title}: panel type {panel.get('type')!r} is not a core type we use")
        if panel.get("type") != "row" and len(str(panel.get("description", "")).strip()) < 20:
            problems.append(f"{title}: needs a description of what it shows and how it is computed")
        if panel.get("type") == "stat":
            for target in panel.get("targets", []):
                if target.get("instant") is not True:
                    problems.append(f"{title}: stat queries are instant queries")
    return problems


CHECKERS: list[Callable[[Dashboard], list[str]]] = [
    check_layout,
    check_variables,
    check_datasources,
    check_filters,
    check_units,
    check_ratio_guards,
    check_panels,
]


def all_problems(dashboard: Dashboard) -> list[str]:
    return [problem for checker in CHECKERS for problem in checker(dashboard)]


def panel_by_title(dashboard: Dashboard, title: str) -> Panel:
    for panel in all_panels(dashboard):
        if panel.get("title") == title:
            return panel
    raise KeyError(title)


# ---------------------------------------------------------------- the shipped dashboards

NAMES = sorted(EXPECTED)


def test_the_three_dashboards_are_there() -> None:
    assert sorted(path.name for path in DASHBOARDS.glob("*.json")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_metadata(name: str) -> None:
    dashboard = load(name)
    assert dashboard["uid"] == EXPECTED[name]["uid"]
    assert dashboard["title"] == EXPECTED[name]["title"]
    assert dashboard["tags"] == ["otel-ai-cost"]
    assert "id" in dashboard and dashboard["id"] is None
    assert dashboard["refresh"] == "1m"
    assert dashboard["time"]["from"] == "now-24h"
    assert int(dashboard["schemaVersion"]) >= 39
    assert any(
        link.get("type") == "dashboards" and "otel-ai-cost" in link.get("tags", []) for link in dashboard["links"]
    )


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_has_its_panels(name: str) -> None:
    titles = [panel["title"] for panel in all_panels(load(name)) if panel.get("type") != "row"]
    assert sorted(titles) == sorted(EXPECTED[name]["panels"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("checker", CHECKERS, ids=lambda checker: checker.__name__)
def test_dashboard_passes_check(name: str, checker: Callable[[Dashboard], list[str]]) -> None:
    problems = checker(load(name))
    assert not problems, "\n".join(problems)


def test_spend_today_and_month_to_date_override_the_time_range() -> None:
    overview = load("ai-cost-overview.json")
    assert panel_by_title(overview, "Spend today")["timeFrom"] == "now/d"
    assert panel_by_title(overview, "Month to date")["timeFrom"] == "now/M"


def test_ratio_panels_are_recognised() -> None:
    """The checker sees the ratios it must (so check_units is not vacuous)."""
    ratios = {
        panel["title"]
        for name in NAMES
        for panel in all_panels(load(name))
        if any(is_ratio(target["expr"]) for target in panel.get("targets", []))
    }
    assert ratios == {
        "Cost per request",
        "Untagged share",
        "Tokens per request",
        "Cache hit ratio",
        "Reasoning share of output tokens",
        "Error rate by provider",
        "Cost per successful outcome",
    }


def test_chargeback_table_columns() -> None:
    panel = panel_by_title(load("ai-cost-chargeback.json"), "Chargeback: team x feature x environment x cost center")
    assert panel["type"] == "table"
    assert panel["targets"][0]["format"] == "table" and panel["targets"][0]["instant"] is True
    organize = next(t for t in panel["transformations"] if t["id"] == "organize")["options"]
    assert organize["excludeByName"].get("Time") is True
    assert organize["renameByName"] == {
        "ai_cost_team": "Team",
        "ai_cost_feature": "Feature",
        "ai_cost_environment": "Environment",
        "ai_cost_cost_center": "Cost center",
        "Value": "Spend (USD)",
    }
    assert panel["options"]["sortBy"] == [{"displayName": "Spend (USD)", "desc": True}]
    assert "currencyUSD" in all_units(panel)


def test_untagged_share_thresholds() -> None:
    panel = panel_by_title(load("ai-cost-chargeback.json"), "Untagged share")
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(step["color"], step["value"]) for step in steps] == [("green", None), ("orange", 0.05), ("red", 0.2)]


# ---------------------------------------------------------------- the checkers catch broken copies

FILTERED = (
    'ai_cost_team=~"$team", ai_cost_feature=~"$feature", ai_cost_environment=~"$environment", '
    'gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model"'
)


def _set_expr(dashboard: Dashboard, title: str, edit: Callable[[str], str]) -> None:
    target = panel_by_title(dashboard, title)["targets"][0]
    target["expr"] = edit(target["expr"])


def _forget_model_filter(dashboard: Dashboard) -> None:
    _set_expr(dashboard, "Cost per request", lambda e: e.replace(', gen_ai_request_model=~"$model"', "", 1))


def _bare_metric(dashboard: Dashboard) -> None:
    _set_expr(dashboard, "Top teams", lambda e: e.replace("{" + FILTERED + "}", ""))


def _hardcoded_team(dashboard: Dashboard) -> None:
    _set_expr(dashboard, "Spend today", lambda e: e.replace('ai_cost_team=~"$team"', 'ai_cost_team=~"search"'))


def _unknown_variable(dashboard: Dashboard) -> None:
    _set_expr(dashboard, "Spend today", lambda e: e.replace("$__range", "$range"))


def _ratio_times_100(dashboard: Dashboard) -> None:
    _set_expr(dashboard, "Cache hit ratio", lambda e: f"({e}) * 100")


def _ratio_in_percent(dashboard: Dashboard) -> None:
    panel_by_title(dashboard, "Cache hit ratio")["fieldConfig"]["defaults"]["unit"] = "percent"


def _ratio_as_short(dashboard: Dashboard) -> None:
    panel_by_title(dashboard, "Reasoning share of output tokens")["fieldConfig"]["defaults"]["unit"] = "short"


def _savings_as_short(dashboard: Dashboard) -> None:
    panel_by_title(dashboard, "Savings from caching and batch")["fieldConfig"]["defaults"]["unit"] = "short"


def _per_hour_without_3600(dashboard: Dashboard) -> None:
    _set_expr(dashboard, "Spend rate by team (USD per hour)", lambda e: e.replace(" * 3600", ""))


def _overlap(dashboard: Dashboard) -> None:
    panel_by_title(dashboard, "Top teams")["gridPos"]["x"] = 10


def _wider_than_grid(dashboard: Dashboard) -> None:
    panel_by_title(dashboard, "Spend rate by team (USD per hour)")["gridPos"]["w"] = 25


def _duplicate_id(dashboard: Dashboard) -> None:
    panel_by_title(dashboard, "Top teams")["id"] = panel_by_title(dashboard, "Spend today")["id"]


def _fixed_datasource(dashboard: Dashboard) -> None:
    panel_by_title(dashboard, "Top teams")["targets"][0]["datasource"] = {"type": "prometheus", "uid": "prom-1"}


def _no_all_value(dashboard: Dashboard) -> None:
    dashboard["templating"]["list"][5]["allValue"] = None


def _unguarded_ratio(dashboard: Dashboard) -> None:
    _set_expr(dashboard, "Cache hit ratio", lambda e: e.replace(" / (", " / ", 1).removesuffix(" > 0)"))


def _no_ref_id(dashboard: Dashboard) -> None:
    del panel_by_title(dashboard, "Spend today")["targets"][0]["refId"]


BROKEN: list[tuple[str, str, Callable[[Dashboard], None], str]] = [
    ("ai-cost-overview.json", "forgotten $model", _forget_model_filter, 'filter gen_ai_request_model=~"$model"'),
    ("ai-cost-overview.json", "selector without braces", _bare_metric, "has no label matchers"),
    ("ai-cost-overview.json", "hard-coded team", _hardcoded_team, 'filter ai_cost_team=~"$team" is missing'),
    ("ai-cost-overview.json", "unknown variable", _unknown_variable, "$range is not one of the variables"),
    ("ai-cost-efficiency.json", "ratio * 100", _ratio_times_100, "no '* 100'"),
    ("ai-cost-efficiency.json", "unit percent", _ratio_in_percent, "unit 'percent'"),
    ("ai-cost-efficiency.json", "ratio as short", _ratio_as_short, "must use unit percentunit"),
    ("ai-cost-efficiency.json", "savings not in USD", _savings_as_short, "must use unit currencyUSD"),
    ("ai-cost-overview.json", "per hour without 3600", _per_hour_without_3600, "does not multiply"),
    ("ai-cost-overview.json", "overlapping panels", _overlap, "overlaps"),
    ("ai-cost-overview.json", "wider than the grid", _wider_than_grid, "outside the 24-column grid"),
    ("ai-cost-overview.json", "duplicate panel id", _duplicate_id, "unique"),
    ("ai-cost-overview.json", "fixed datasource", _fixed_datasource, "target datasource must be"),
    ("ai-cost-chargeback.json", "no allValue", _no_all_value, "allValue must be '.*'"),
    ("ai-cost-overview.json", "no refId", _no_ref_id, "refId"),
    ("ai-cost-efficiency.json", "ratio without > 0", _unguarded_ratio, "must end with `> 0)`"),
]


@pytest.mark.parametrize(
    ("name", "breakage", "needle"), [(n, b, m) for n, _, b, m in BROKEN], ids=[i for _, i, _, _ in BROKEN]
)
def test_checkers_report_a_broken_copy(name: str, breakage: Callable[[Dashboard], None], needle: str) -> None:
    original = load(name)
    assert not all_problems(original)
    broken = copy.deepcopy(original)
    breakage(broken)
    problems = all_problems(broken)
    assert any(needle in problem for problem in problems), problems


def test_forgotten_model_filter_is_reported_for_that_selector_only() -> None:
    broken = load("ai-cost-overview.json")
    _forget_model_filter(broken)
    problems = check_filters(broken)
    assert len(problems) == 1, problems
    assert problems[0].startswith("Cost per request: gen_ai_client_cost_USD_total: filter gen_ai_request_model")


def test_percent_scaled_ratio_is_reported_twice() -> None:
    """`* 100` with percentunit shows 100x too much; with unit percent it is still the wrong convention."""
    broken = load("ai-cost-efficiency.json")
    _ratio_times_100(broken)
    _ratio_in_percent(broken)
    problems = check_panel_units(panel_by_title(broken, "Cache hit ratio"))
    assert any("* 100" in problem for problem in problems), problems
    assert any("unit 'percent'" in problem for problem in problems), problems
    assert any("must use unit percentunit" in problem for problem in problems), problems


def test_divisions_split_at_the_parentheses_around_the_slash() -> None:
    assert divisions('(sum(a{x="1/2"}) / sum(b)) * 100') == [('sum(a{x="1/2"}) ', " sum(b)")]
    assert divisions("sum(rate(a[5m])) * 3600") == []
    assert not is_ratio(f"sum(increase({COST}{{{FILTERED}}}[1h])) / 2")
    assert is_ratio(f'sum(rate({TOKENS}{{{FILTERED}, x="a"}}[1m])) / sum(rate({TOKENS}{{{FILTERED}}}[1m]))')


def test_commitment_break_even_compares_pay_as_you_go_with_the_prorated_commitment() -> None:
    dashboard = load("ai-cost-chargeback.json")
    panel = panel_by_title(dashboard, "Commitment break-even")
    exprs = {target["legendFormat"]: target["expr"] for target in panel["targets"]}
    payg, effective, saved = exprs.values()
    assert LIST_COST in payg and COST in effective
    assert all('ai_cost_commitment="provisioned"' in expr for expr in exprs.values())
    # a month of 730 hours, as Azure bills provisioned throughput
    assert "$commitment_usd_per_month * $__range_s / 2628000" in effective
    assert saved == f"{payg} - ({effective})"
    assert all(target["instant"] is True for target in panel["targets"])
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "commitment_usd_per_month")
    assert (variable["type"], variable["query"]) == ("textbox", "0")
