"""The spans-to-metrics overlay derives the series the dashboards and alerts query, under the package's names.

The OTTL statements cannot run here (no collector binary), so they are read: the composite grouping
attributes built on the spans must split back into the labels they were built from, every part must
have a value (OTTL's Concat writes "<nil>" for a missing one), and every dashboard panel or alert
over the derived metrics must only use labels the overlay sets.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from otelcol_schema import REPO_ROOT

from otel_ai_cost.pricing.cost import Commitment
from otel_ai_cost.telemetry import names

OVERLAY = REPO_ROOT / "collector" / "spans-to-metrics.overlay.yaml"
DASHBOARDS = sorted((REPO_ROOT / "dashboards").glob("*.json"))
RULES = REPO_ROOT / "dashboards" / "alerts" / "ai-cost.rules.yaml"
BASE_KEY = "ai.cost.series"

_SET = re.compile(r'^set\(attributes\["([^"]+)"\], (.+?)\)(?: where (.+))?$')
_ATTRIBUTE = re.compile(r'attributes\["([^"]+)"\]')
_SPLIT = re.compile(r'^Split\(attributes\["ai\.cost\.series"\], "\|"\)\[(\d+)\]$')
_METRIC_NAME = re.compile(r'metric\.name == "([^"]+)"')


def overlay() -> dict[str, Any]:
    return yaml.safe_load(OVERLAY.read_text(encoding="utf-8"))


def span_statements() -> list[str]:
    (group,) = overlay()["processors"]["transform/cost_series"]["trace_statements"]
    return list(group["statements"])


def datapoint_statements() -> list[str]:
    groups = overlay()["processors"]["transform/cost_labels"]["metric_statements"]
    return next(group["statements"] for group in groups if group["context"] == "datapoint")


def metric_statements() -> list[str]:
    groups = overlay()["processors"]["transform/cost_labels"]["metric_statements"]
    return next(group["statements"] for group in groups if group["context"] == "metric")


def concat_parts() -> dict[str, list[str]]:
    """Each composite attribute set on the spans -> its parts, the base key's parts spelled out."""
    parts: dict[str, list[str]] = {}
    for statement in span_statements():
        match = _SET.match(statement)
        if match and match.group(2).startswith("Concat(["):
            items = _ATTRIBUTE.findall(match.group(2))
            expanded: list[str] = []
            for item in items:
                expanded.extend(parts[item] if item in parts else [item])
            parts[match.group(1)] = expanded
    return parts


def final_name(connector_name: str) -> str:
    """The metric name after transform/cost_labels' metric-context renames."""
    for statement in metric_statements():
        match = re.fullmatch(r'set\(metric\.name, "([^"]+)"\) where IsMatch\(metric\.name, "([^"]+)"\)', statement)
        if match and re.search(match.group(2), connector_name):
            return match.group(1)
    return connector_name


def derived() -> dict[str, dict[str, Any]]:
    return overlay()["connectors"]["sum"]["spans"]


def prometheus_name(name: str, unit: str) -> str:
    suffix = "" if unit.startswith("{") else f"_{unit}"
    return f"{name.replace('.', '_')}{suffix}_total"


def labels_of(connector_name: str) -> set[str]:
    """Attribute names the datapoints of one connector metric carry after transform/cost_labels."""
    metric = derived()[connector_name]
    (key,) = [attribute["key"] for attribute in metric["attributes"]]
    parts = concat_parts()[key]
    labels: set[str] = set()
    for statement in datapoint_statements():
        match = _SET.match(statement)
        if not match or match.group(1).startswith(BASE_KEY):
            continue
        where = match.group(3) or ""
        names_in_where = _METRIC_NAME.findall(where)
        if "metric.name" in where and connector_name not in names_in_where:
            continue
        split = _SPLIT.match(match.group(2))
        if split and int(split.group(1)) >= len(parts):
            continue
        labels.add(match.group(1))
    return labels


def test_derived_metrics_are_the_package_instruments_with_their_units() -> None:
    expected = {names.COST, names.LIST_COST_COUNTER, names.REQUESTS, names.UNPRICED, names.TOKENS, names.IMAGES}
    produced = {final_name(name) for name in derived()}
    assert produced == {name for name, _unit in expected}
    units = "\n".join(metric_statements())
    for name, unit in expected:
        assert re.search(rf'set\(metric\.unit, "{re.escape(unit)}"\) where [^\n]*"{re.escape(name)}"', units), name


def test_composite_keys_split_back_into_the_attributes_they_were_built_from() -> None:
    parts = concat_parts()
    keys = {attribute["key"] for metric in derived().values() for attribute in metric["attributes"]}
    assert keys <= set(parts), keys - set(parts)
    base = parts[BASE_KEY]
    for statement in datapoint_statements():
        match = _SET.match(statement)
        split = _SPLIT.match(match.group(2)) if match else None
        if not (match and split):
            continue
        index, label = int(split.group(1)), match.group(1)
        if index < len(base):
            assert base[index] == label and not match.group(3), statement
            continue
        metrics = _METRIC_NAME.findall(match.group(3) or "")
        assert metrics, f"a part beyond the shared ones must be limited to its metrics: {statement}"
        for metric in metrics:
            (key,) = [attribute["key"] for attribute in derived()[metric]["attributes"]]
            assert parts[key][index] == label, (statement, key, parts[key])


def test_every_part_of_a_key_has_a_value_before_it_is_concatenated() -> None:
    """Concat writes "<nil>" for a missing attribute: provider, operation, ... default first."""
    statements = span_statements()
    first_concat = next(i for i, s in enumerate(statements) if "Concat(" in s)
    defaulted = {
        match.group(1)
        for statement in statements[:first_concat]
        if (match := _SET.match(statement)) and match.group(3) == f'attributes["{match.group(1)}"] == nil'
    }
    used = {part for key, parts in concat_parts().items() for part in parts if not part.startswith(BASE_KEY)}
    assert used <= defaulted, f"no default for {sorted(used - defaulted)}"
    for attribute, value in (
        (names.PROVIDER, "unknown"),
        (names.OPERATION, "unknown"),
        (names.REQUEST_MODEL, "unknown"),
    ):
        assert f'set(attributes["{attribute}"], "{value}") where attributes["{attribute}"] == nil' in statements
    assert f'set(attributes["{names.COMMITMENT}"], "{Commitment.ON_DEMAND}")' in "\n".join(statements)


def test_unpriced_failed_and_committed_requests_are_derived() -> None:
    statements = "\n".join(span_statements())
    # Unpriced: only spans marked unpriced, by reason.
    unpriced = next(s for s in span_statements() if s.startswith('set(attributes["ai.cost.series.unpriced"]'))
    assert '"ai.cost.unpriced_reason"' in unpriced and unpriced.endswith('where attributes["ai.cost.priced"] == false')
    assert names.UNPRICED_REASON in labels_of("ai.cost.unpriced")
    # Failed requests are counted among the requests, with error.type.
    assert names.ERROR_TYPE in labels_of("ai.cost.requests")
    assert names.ERROR_TYPE not in labels_of("gen_ai.client.cost")
    (group,) = overlay()["processors"]["transform/cost_series"]["trace_statements"]
    assert any("error.type" in condition for condition in group["conditions"])
    assert any("ai.cost.priced" in condition for condition in group["conditions"])
    # The commitment is on the cost and the list cost, as in the package; list cost falls back to the cost.
    assert names.COMMITMENT in labels_of("gen_ai.client.cost") & labels_of("ai.cost.list_cost")
    assert names.COMMITMENT not in labels_of("ai.cost.requests")
    assert derived()["ai.cost.list_cost"]["source_attribute"] == names.LIST_COST
    fallback = f'set(attributes["{names.LIST_COST}"], attributes["{names.COST_AMOUNT}"])'
    assert f'{fallback} where attributes["{names.LIST_COST}"] == nil' in statements


def _expressions() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        panels = list(json.loads(path.read_text())["panels"])
        while panels:
            panel = panels.pop(0)
            panels.extend(panel.get("panels", []))
            found += [(f"{path.stem}: {panel['title']}", target["expr"]) for target in panel.get("targets", [])]
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        found += [(rule["alert"], rule["expr"]) for rule in group["rules"]]
    return found


def _prometheus_series() -> dict[str, set[str]]:
    units = {
        name: unit
        for name, unit in (
            names.COST,
            names.LIST_COST_COUNTER,
            names.REQUESTS,
            names.UNPRICED,
            names.TOKENS,
            names.IMAGES,
        )
    }
    series: dict[str, set[str]] = {}
    for connector_name in derived():
        name = final_name(connector_name)
        labels = {label.replace(".", "_") for label in labels_of(connector_name)} | {"job", "instance"}
        series.setdefault(prometheus_name(name, units[name]), set()).update(labels)
    return series


@pytest.mark.parametrize(("where", "expr"), _expressions(), ids=[where for where, _ in _expressions()])
def test_queries_over_derived_metrics_use_labels_the_overlay_sets(where: str, expr: str) -> None:
    series = _prometheus_series()
    used = set(re.findall(r"\b((?:gen_ai|ai_cost)_[a-zA-Z0-9_]+_total)\b", expr))
    if not used or not used <= set(series):
        pytest.skip("uses metrics the overlay does not derive")  # listed in collector/README.md
    # A matcher needs its label on the metric it selects; a grouping label on every metric.
    for metric, matchers in re.findall(r"\b((?:gen_ai|ai_cost)_[a-zA-Z0-9_]+_total)\{([^}]*)\}", expr):
        labels = set(re.findall(r'([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"', matchers))
        assert labels <= series[metric], (
            f"{where}: {sorted(labels - series[metric])} not set by the overlay on {metric}"
        )
    grouping = {name.strip() for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr) for name in group.split(",")}
    available = set.intersection(*(series[metric] for metric in used))
    assert grouping - {""} <= available, f"{where}: {sorted(grouping - available)} not on all of {sorted(used)}"


def test_the_dashboards_blind_spots_are_named_in_the_readme() -> None:
    """Metrics the dashboards and alerts query that the overlay cannot derive are listed as not covered."""
    readme = (REPO_ROOT / "collector" / "README.md").read_text(encoding="utf-8")
    series = _prometheus_series()
    queried = {
        m for _where, expr in _expressions() for m in re.findall(r"\b((?:gen_ai|ai_cost)_[a-zA-Z0-9_]+)\b", expr)
    }
    queried = {
        re.sub(r"_(total|sum|count|bucket)$", "", m) for m in queried if m.endswith(("_total", "_sum", "_count"))
    }
    missing = {m for m in queried if f"{m}_total" not in series}
    assert missing, "every queried metric is derived: update this test"
    for metric in missing:
        instrument = {
            "ai_cost_savings_USD": names.SAVINGS_COUNTER[0],
            "ai_cost_internal_errors": names.INTERNAL_ERRORS[0],
            "ai_cost_workflow_cost_USD": names.WORKFLOW_COST_HISTOGRAM[0],
            "ai_cost_workflow_runs": names.WORKFLOW_RUNS[0],
        }.get(metric, metric)
        assert f"`{instrument}`" in readme or instrument.rsplit(".", 1)[0] in readme, metric


def test_otel_ai_cost_services_are_told_to_keep_their_metrics() -> None:
    readme = (REPO_ROOT / "collector" / "README.md").read_text(encoding="utf-8")
    header = OVERLAY.read_text(encoding="utf-8").split("\nprocessors:", 1)[0]
    for text in (readme, header):
        flat = " ".join(text.split())
        assert "OTEL_METRICS_EXPORTER=none" not in flat or "keep" in flat.lower(), text[:200]
        assert "otel_ai_cost.instrumentor" in flat
    assert not re.search(r"services run with `?OTEL_METRICS_EXPORTER=none`?, may send", " ".join(readme.split()))
