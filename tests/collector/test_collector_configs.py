"""Every collector/otelcol*.yaml in the repo must be a valid otelcol-contrib v0.159.0 config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from otelcol_schema import REPO_ROOT, Reference, load_reference, validate, validate_file

CONFIG_FILES = sorted(REPO_ROOT.glob("collector/otelcol*.yaml"))


@pytest.fixture(scope="module")
def ref() -> Reference:
    return load_reference()


def test_collector_configs_exist() -> None:
    assert CONFIG_FILES, f"no collector/otelcol*.yaml found under {REPO_ROOT}"


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_collector_config_is_valid(path: Path, ref: Reference) -> None:
    problems = validate_file(path, ref)
    for warning in (p for p in problems if not p.is_error):
        print(f"{path.name}: {warning}")
    errors = [str(p) for p in problems if p.is_error]
    assert not errors, f"{path.relative_to(REPO_ROOT)} has {len(errors)} problem(s):\n" + "\n".join(errors)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_every_pipeline_exports_beyond_debug(path: Path) -> None:
    """A pipeline whose only exporters are `debug` sends its data nowhere (connectors count as exporters)."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    pipelines = config["service"]["pipelines"]
    debug_only = [
        pipeline_id
        for pipeline_id, pipeline in pipelines.items()
        if all(str(exporter).split("/")[0] == "debug" for exporter in (pipeline or {}).get("exporters") or [])
    ]
    assert not debug_only, f"pipelines without a real exporter in {path.name}: {debug_only}"


OVERLAY = REPO_ROOT / "collector" / "spans-to-metrics.overlay.yaml"
MAIN = REPO_ROOT / "collector" / "otelcol-config.yaml"
OUR_SCOPE = "otel_ai_cost.instrumentor"


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """What `otelcol --config base --config overlay` runs: maps merged deeply, other values replaced."""
    result = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def overlay_config() -> dict[str, Any]:
    return merged(yaml.safe_load(MAIN.read_text()), yaml.safe_load(OVERLAY.read_text()))


def test_main_config_with_the_spans_overlay_is_valid(ref: Reference) -> None:
    config = overlay_config()
    errors = [str(p) for p in validate(config, ref) if p.is_error]
    assert not errors, "\n".join(errors)
    # The overlay adds pipelines; the main ones are untouched.
    assert (
        config["service"]["pipelines"]["traces"] == yaml.safe_load(MAIN.read_text())["service"]["pipelines"]["traces"]
    )
    assert {"traces/cost", "metrics/from_spans"} <= set(config["service"]["pipelines"])


def test_the_overlay_alone_is_not_a_config(ref: Reference) -> None:
    problems = [str(p) for p in validate(yaml.safe_load(OVERLAY.read_text()), ref) if p.is_error]
    assert any("prometheus_remote_write" in problem for problem in problems), problems


def test_span_derived_metrics_cannot_double_count_or_multiply() -> None:
    config = overlay_config()
    spans = config["connectors"]["sum"]["spans"]
    assert set(spans) == {
        "gen_ai.client.cost",
        "ai.cost.list_cost",
        "ai.cost.requests",
        "ai.cost.unpriced",
        "ai.cost.tokens.input",
        "ai.cost.tokens.output",
        "ai.cost.tokens.cache_read",
        "ai.cost.tokens.cache_write",
        "ai.cost.tokens.reasoning",
        "ai.cost.images",
    }
    for name, metric in spans.items():
        # otel-ai-cost's own spans are skipped: the package exports these metrics itself.
        assert all(f'instrumentation_scope.name != "{OUR_SCOPE}"' in c for c in metric["conditions"]), name
        # One grouping attribute: the connector adds a value once per grouping attribute present.
        keys = [attribute["key"] for attribute in metric["attributes"]]
        assert len(keys) == 1 and keys[0].startswith("ai.cost.series"), name
    from_spans = config["service"]["pipelines"]["metrics/from_spans"]
    assert from_spans["receivers"] == ["sum"]
    # Delta sums become cumulative before Prometheus remote write.
    assert from_spans["processors"].index("deltatocumulative") > from_spans["processors"].index("transform/cost_labels")
    assert from_spans["exporters"] == ["prometheus_remote_write"]
    labels = "\n".join(config["processors"]["transform/cost_labels"]["metric_statements"][1]["statements"])
    assert 'set(metric.name, "ai.cost.tokens")' in labels and 'set(metric.unit, "USD")' in labels


def test_untagged_safety_net_and_content_removal_run_on_every_main_pipeline() -> None:
    pipelines = yaml.safe_load(MAIN.read_text())["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert "transform/untagged" in pipeline["processors"], name
    assert "transform/drop_content" in pipelines["traces"]["processors"]


def test_untagged_safety_net_covers_every_instrument_that_carries_tags() -> None:
    """A new instrument with tag dimensions must also be marked untagged for producers that don't tag."""
    import re

    from otel_ai_cost.telemetry import names

    config = yaml.safe_load((REPO_ROOT / "collector/otelcol-config.yaml").read_text(encoding="utf-8"))
    condition = config["processors"]["transform/untagged"]["metric_statements"][0]["conditions"][0]
    pattern = re.fullmatch(r'IsMatch\(metric\.name, "(.+)"\)', condition)
    assert pattern is not None, condition
    tagged = [
        names.COST,
        names.TOKEN_USAGE,
        names.OPERATION_DURATION,
        names.TOKENS,
        names.SAVINGS_COUNTER,
        names.LIST_COST_COUNTER,
        names.UNPRICED,
        names.IMAGES,
        names.REQUESTS,
        names.BUDGET_EXCEEDED,
        names.WORKFLOW_COST_HISTOGRAM,
        names.WORKFLOW_RUNS,
    ]
    missing = [name for name, _unit in tagged if not re.search(pattern.group(1), name)]
    assert not missing
    assert not re.search(pattern.group(1), names.INTERNAL_ERRORS[0])  # ours only, no tags


def test_the_commented_focus_file_exporter_is_valid_once_uncommented(ref: Reference) -> None:
    """collector/README.md tells users to uncomment `file/focus` and swap the traces exporters line."""
    lines = MAIN.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# file/focus:")
    indent = lines[start].index("#")
    block = [start]
    while lines[block[-1] + 1].startswith(" " * indent + "#   "):
        block.append(block[-1] + 1)
    for i in block:
        lines[i] = " " * indent + lines[i][indent + 2 :]
    swap = next(i for i, line in enumerate(lines) if line.strip() == "# exporters: [otlp_grpc/traces, file/focus]")
    assert lines[swap - 1].strip() == "exporters: [otlp_grpc/traces]"
    lines[swap - 1 : swap + 1] = [lines[swap].replace("# ", "", 1)]
    config = yaml.safe_load("\n".join(lines))
    errors = [str(p) for p in validate(config, ref) if p.is_error]
    assert not errors, "\n".join(errors)
    exporter = config["exporters"]["file/focus"]
    assert exporter["format"] == "json" and exporter["path"].endswith(".jsonl}")
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp_grpc/traces", "file/focus"]
    # The README shows the same lines.
    readme = (REPO_ROOT / "collector" / "README.md").read_text(encoding="utf-8")
    assert f"    path: {exporter['path']}" in readme and "exporters: [otlp_grpc/traces, file/focus]" in readme
