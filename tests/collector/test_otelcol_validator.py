"""Tests of the offline otelcol-contrib config validator itself, with small inline configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import otelcol_schema
import pytest
import yaml
from otelcol_schema import (
    CLASSES,
    CONTRIB_MODULE,
    CORE_MODULE,
    UNRESOLVABLE_REFS,
    Problem,
    Reference,
    SchemaError,
    find_reference,
    load_reference,
    validate,
    validate_file,
)

BASE = """
receivers:
  otlp:
    protocols:
      grpc:
      http:
        endpoint: 0.0.0.0:4318
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
  batch:
    timeout: 5s
    send_batch_size: 1024
exporters:
  otlp_grpc:
    endpoint: tempo:4317
    tls:
      insecure: true
  prometheus_remote_write:
    endpoint: ${env:PROM_URL}
    headers:
      X-Scope-OrgID: ai-cost
      Authorization: ${env:PROM_AUTH:-}
extensions:
  health_check:
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp_grpc]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [prometheus_remote_write]
"""

TRANSFORM_PKG = f"{CONTRIB_MODULE}/processor/transformprocessor"


@pytest.fixture(scope="module")
def ref() -> Reference:
    return load_reference()


def base() -> dict[str, Any]:
    config = yaml.safe_load(BASE)
    assert isinstance(config, dict)
    return config


def errors(config: dict[str, Any], ref: Reference) -> list[Problem]:
    return [p for p in validate(config, ref) if p.is_error]


def problem_at(problems: list[Problem], path: str, fragment: str) -> Problem:
    """The problem at `path` whose message contains `fragment`; fails with the full list otherwise."""
    for problem in problems:
        if problem.path == path and fragment in problem.message:
            return problem
    listing = "\n".join(str(p) for p in problems) or "(no problems)"
    raise AssertionError(f"no problem at {path!r} mentioning {fragment!r}; got:\n{listing}")


def rename(config: dict[str, Any], cls: str, old: str, new: str) -> None:
    """Rename a component and every pipeline reference to it."""
    config[cls][new] = config[cls].pop(old)
    role = {"receivers": "receivers", "processors": "processors", "exporters": "exporters"}[cls]
    for pipeline in config["service"]["pipelines"].values():
        pipeline[role] = [new if c == old else c for c in pipeline.get(role, [])]


def add_span_to_metrics_connector(config: dict[str, Any], conn_id: str, conn_config: Any) -> None:
    config.setdefault("connectors", {})[conn_id] = conn_config
    pipelines = config["service"]["pipelines"]
    pipelines["traces"]["exporters"].append(conn_id)
    pipelines["metrics/from_spans"] = {"receivers": [conn_id], "exporters": ["prometheus_remote_write"]}


# --- accepted configs -------------------------------------------------------------------------------


def test_minimal_valid_config_passes(ref: Reference) -> None:
    assert validate(base(), ref) == []


def test_env_substitution_in_integer_field_is_accepted(ref: Reference) -> None:
    config = base()
    config["processors"]["batch"]["send_batch_size"] = "${env:BATCH_SIZE}"
    config["processors"]["memory_limiter"]["limit_percentage"] = "${MEMORY_LIMIT_PERCENTAGE}"
    config["exporters"]["otlp_grpc"]["tls"]["insecure"] = "${env:INSECURE:-true}"
    assert errors(config, ref) == []


def test_dollar_escape_is_not_a_substitution(ref: Reference) -> None:
    config = base()
    config["exporters"]["otlp_grpc"]["endpoint"] = "$${foo:bar} costs $$5"
    assert errors(config, ref) == []


def test_null_component_config_is_accepted(ref: Reference) -> None:
    config = base()
    config["processors"]["batch"] = None
    config["extensions"]["health_check"] = None
    assert errors(config, ref) == []


def test_null_protocols_are_accepted(ref: Reference) -> None:
    config = base()
    config["receivers"]["otlp"] = {"protocols": {"grpc": None, "http": None}}
    assert errors(config, ref) == []


def test_sum_connector_with_span_metric_is_accepted(ref: Reference) -> None:
    config = base()
    add_span_to_metrics_connector(
        config,
        "sum",
        {
            "spans": {
                "gen_ai.client.cost": {
                    "description": "LLM spend in USD",
                    "source_attribute": "gen_ai.usage.cost",
                    "conditions": ['attributes["gen_ai.usage.cost"] != nil'],
                    "attributes": [{"key": "ai.cost.team", "default_value": "untagged"}],
                }
            }
        },
    )
    assert validate(config, ref) == []


def test_sum_connector_rejects_unknown_metric_key(ref: Reference) -> None:
    config = base()
    add_span_to_metrics_connector(config, "sum", {"spans": {"cost": {"source_attribute": "x", "condition": ["y"]}}})
    problem_at(errors(config, ref), "connectors.sum.spans.cost.condition", "did you mean `conditions`")


def test_transform_statements_in_both_forms_are_accepted(ref: Reference) -> None:
    config = base()
    config["processors"]["transform/untagged"] = {
        "error_mode": "ignore",
        "trace_statements": [
            'set(span.attributes["ai.cost.team"], "untagged") where span.attributes["ai.cost.team"] == nil',
            {"context": "span", "conditions": ["true"], "statements": ['set(attributes["x"], 1)']},
        ],
    }
    config["service"]["pipelines"]["traces"]["processors"].insert(1, "transform/untagged")
    assert errors(config, ref) == []


def test_named_types_decoding_from_text_are_accepted(ref: Reference) -> None:
    """debug verbosity (configtelemetry.Level) and span_metrics histogram unit are integers in the schema."""
    config = base()
    config["exporters"]["debug"] = {"verbosity": "detailed"}
    config["service"]["pipelines"]["traces"]["exporters"].append("debug")
    add_span_to_metrics_connector(
        config,
        "span_metrics",
        {
            "histogram": {"unit": "ms", "explicit": {"buckets": ["100ms", "1s", "10s"]}},
            "metrics_flush_interval": "15s",
            "dimensions": [{"name": "ai.cost.team", "default": "untagged"}],
        },
    )
    assert validate(config, ref) == []


def test_headers_accept_map_and_pair_list(ref: Reference) -> None:
    config = base()
    config["exporters"]["otlp_grpc"]["headers"] = [{"name": "X-Tenant", "value": "a"}]
    assert errors(config, ref) == []
    config["exporters"]["otlp_grpc"]["headers"] = {"X-Tenant": 42}
    problem_at(errors(config, ref), "exporters.otlp_grpc.headers.X-Tenant", "expected string")


def test_retry_on_failure_is_a_key_not_squashed_in_prometheus_remote_write(ref: Reference) -> None:
    config = base()
    prw = config["exporters"]["prometheus_remote_write"]
    prw["retry_on_failure"] = {"enabled": True, "initial_interval": "1s", "max_elapsed_time": "5m"}
    prw["remote_write_queue"] = {"enabled": True, "queue_size": 100, "include_metadata_keys": ["x"]}
    prw["convert_explicit_histograms_to_nhcb"] = True  # version skew allow-list
    assert errors(config, ref) == []
    prw["initial_interval"] = "1s"
    problem_at(errors(config, ref), "exporters.prometheus_remote_write.initial_interval", "unknown key")


# --- rejected configs -------------------------------------------------------------------------------


def test_rejects_unknown_top_level_key(ref: Reference) -> None:
    config = base()
    config["exporter"] = {}
    problem_at(errors(config, ref), "exporter", "unknown top-level key")


def test_rejects_unknown_component_type(ref: Reference) -> None:
    config = base()
    rename(config, "receivers", "otlp", "otlpp")
    problem = problem_at(errors(config, ref), "receivers.otlpp", "unknown receiver type `otlpp`")
    assert "did you mean `otlp`" in problem.message


@pytest.mark.parametrize(
    ("cls", "canonical", "alias"),
    [
        ("exporters", "otlp_grpc", "otlp"),
        ("exporters", "prometheus_remote_write", "prometheusremotewrite"),
        ("connectors", "span_metrics", "spanmetrics"),
    ],
)
def test_rejects_deprecated_alias(ref: Reference, cls: str, canonical: str, alias: str) -> None:
    config = base()
    if cls == "connectors":
        add_span_to_metrics_connector(config, alias, None)
    else:
        rename(config, cls, canonical, alias)
    problem = problem_at(errors(config, ref), f"{cls}.{alias}", "deprecated alias")
    assert problem.message == f"use {canonical}, `{alias}` is a deprecated alias"


def test_alias_config_is_still_checked_against_the_canonical_schema(ref: Reference) -> None:
    config = base()
    rename(config, "exporters", "otlp_grpc", "otlp")
    config["exporters"]["otlp"]["endpoit"] = "x"
    problem_at(errors(config, ref), "exporters.otlp.endpoit", "did you mean `endpoint`")


def test_medium_confidence_lookalike_only_warns(ref: Reference) -> None:
    assert ref.component("processors", "deltatocumulative").confidence == "medium"  # type: ignore[union-attr]
    config = base()
    config["processors"]["delta_to_cumulative"] = {"max_stale": "5m"}
    config["service"]["pipelines"]["metrics"]["processors"].append("delta_to_cumulative")
    problems = validate(config, ref)
    assert [p for p in problems if p.is_error] == []
    assert problem_at(problems, "processors.delta_to_cumulative", "medium confidence").severity == "warning"


def test_rejects_unknown_key_in_component(ref: Reference) -> None:
    config = base()
    config["processors"]["batch"] = {"sendbatchsize": 10}
    problem = problem_at(errors(config, ref), "processors.batch.sendbatchsize", "unknown key `sendbatchsize`")
    assert "send_batch_size" in problem.message


def test_rejects_unknown_nested_key_under_ref_struct(ref: Reference) -> None:
    config = base()
    config["exporters"]["prometheus_remote_write"]["tls"] = {"insecurre": True}
    config["exporters"]["prometheus_remote_write"]["remote_write_queue"] = {"enabled": True, "queue_sizee": 10}
    problems = errors(config, ref)
    problem_at(problems, "exporters.prometheus_remote_write.tls.insecurre", "did you mean `insecure`")
    problem_at(problems, "exporters.prometheus_remote_write.remote_write_queue.queue_sizee", "unknown key")


def test_rejects_unknown_key_in_transform_statement_group(ref: Reference) -> None:
    """Reaches processors/transform -> ./internal/common.context_statements."""
    config = base()
    config["processors"]["transform"] = {"trace_statements": ["set(x, 1)", {"context": "span", "statement": ["y"]}]}
    config["service"]["pipelines"]["traces"]["processors"].append("transform")
    problem_at(errors(config, ref), "processors.transform.trace_statements[1].statement", "did you mean `statements`")


def test_rejects_wrong_type(ref: Reference) -> None:
    config = base()
    config["processors"]["memory_limiter"] = {"limit_percentage": "lots"}
    problem = problem_at(errors(config, ref), "processors.memory_limiter.limit_percentage", "expected integer")
    assert "'lots'" in problem.message


@pytest.mark.parametrize(
    ("processor", "key", "value", "fragment"),
    [
        ("memory_limiter", "check_interval", 5, "expected a Go duration string"),
        ("batch", "timeout", "5 seconds", "is not a Go duration"),
    ],
)
def test_rejects_bad_duration(ref: Reference, processor: str, key: str, value: Any, fragment: str) -> None:
    config = base()
    config["processors"][processor][key] = value
    problem_at(errors(config, ref), f"processors.{processor}.{key}", fragment)


@pytest.mark.parametrize("duration", ["500ms", "1h30m", "0s", "0", "1.5s", "2m3.5s"])
def test_accepts_go_durations(ref: Reference, duration: str) -> None:
    config = base()
    config["processors"]["batch"]["timeout"] = duration
    assert errors(config, ref) == []


@pytest.mark.parametrize("statement", ["", "   ", None])
def test_rejects_empty_ottl(ref: Reference, statement: Any) -> None:
    config = base()
    config["processors"]["transform"] = {"trace_statements": [statement]}
    config["service"]["pipelines"]["traces"]["processors"].append("transform")
    problem_at(errors(config, ref), "processors.transform.trace_statements[0]", "non-empty string")


def test_rejects_pipeline_referencing_undefined_component(ref: Reference) -> None:
    config = base()
    config["service"]["pipelines"]["traces"]["exporters"].append("otlp_http")
    problem_at(
        errors(config, ref),
        "service.pipelines.traces.exporters[1]",
        "`otlp_http` is not defined under exporters or connectors",
    )


def test_rejects_unknown_pipeline_signal(ref: Reference) -> None:
    config = base()
    config["service"]["pipelines"]["metricz"] = config["service"]["pipelines"].pop("metrics")
    problem_at(errors(config, ref), "service.pipelines.metricz", "unknown pipeline signal")


def test_rejects_pipeline_without_receivers(ref: Reference) -> None:
    config = base()
    del config["service"]["pipelines"]["traces"]["receivers"]
    problem_at(errors(config, ref), "service.pipelines.traces.receivers", "at least one")


def test_rejects_defined_but_unused_component(ref: Reference) -> None:
    config = base()
    config["exporters"]["debug"] = {"verbosity": "basic"}
    problem_at(errors(config, ref), "exporters.debug", "not used in any service pipeline")


def test_rejects_connector_used_only_as_exporter(ref: Reference) -> None:
    config = base()
    config["connectors"] = {"span_metrics": None}
    config["service"]["pipelines"]["traces"]["exporters"].append("span_metrics")
    problem_at(errors(config, ref), "connectors.span_metrics", "never as a receiver")


@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ("${foo:X}", "unknown provider scheme `foo`"),
        ("${env:PROM_URL", "unclosed"),
        ("${}", "empty"),
        ("${PROM URL}", "not a valid environment variable name"),
        ("${env:PROM-URL}", "not a valid environment variable name"),
        ("${PROM_URL:-http://x}", "unknown provider scheme `PROM_URL`"),
    ],
)
def test_rejects_bad_substitution_syntax(ref: Reference, endpoint: str, fragment: str) -> None:
    config = base()
    config["exporters"]["prometheus_remote_write"]["endpoint"] = endpoint
    problem_at(errors(config, ref), "exporters.prometheus_remote_write.endpoint", fragment)


@pytest.mark.parametrize("uri", ["${file:/run/secrets/token}", "${https://example.com/v}", "${env:A:-${env:B}}"])
def test_accepts_other_provider_schemes(ref: Reference, uri: str) -> None:
    config = base()
    config["exporters"]["prometheus_remote_write"]["endpoint"] = uri
    assert errors(config, ref) == []


def test_rejects_service_extension_not_defined(ref: Reference) -> None:
    config = base()
    config["service"]["extensions"].append("pprof")
    problem_at(errors(config, ref), "service.extensions[1]", "`pprof` is not defined under extensions")


def test_validate_file_reports_yaml_errors(tmp_path: Path) -> None:
    path = tmp_path / "otelcol.yaml"
    path.write_text("receivers: [unclosed\n", encoding="utf-8")
    problem_at(validate_file(path), "", "not valid YAML")


# --- $ref resolution --------------------------------------------------------------------------------


def test_ref_bare_name(ref: Reference) -> None:
    node = ref.resolve_ref("protocols", f"{CORE_MODULE}/receiver/otlpreceiver")
    assert node is not None and set(node.schema["properties"]) == {"grpc", "http"}


def test_ref_module_root_relative_core_and_contrib(ref: Reference) -> None:
    grpc = ref.resolve_ref("/config/configgrpc.server_config", f"{CORE_MODULE}/receiver/otlpreceiver")
    assert grpc is not None and grpc.package == f"{CORE_MODULE}/config/configgrpc"
    props, is_open = ref.properties(grpc)
    assert {"max_recv_msg_size_mib", "endpoint", "transport"} <= set(props) and not is_open  # + squashed confignet
    error_mode = ref.resolve_ref("/pkg/ottl.error_mode", TRANSFORM_PKG)
    assert error_mode is not None and error_mode.package == f"{CONTRIB_MODULE}/pkg/ottl"


def test_ref_relative_to_referencing_package(ref: Reference) -> None:
    node = ref.resolve_ref("./internal/common.context_statements", TRANSFORM_PKG)
    assert node is not None and {"context", "statements", "conditions"} <= set(node.schema["properties"])
    regexp = ref.resolve_ref("./regexp.config", f"{CONTRIB_MODULE}/internal/filter/filterset")
    assert regexp is not None and "cacheenabled" in regexp.schema["properties"]
    timeout = ref.resolve_ref("./internal.timeout_config", f"{CORE_MODULE}/exporter/exporterhelper")
    assert timeout is not None and "timeout" in timeout.schema["properties"]


def test_ref_full_package_path_and_squashed_client_config(ref: Reference) -> None:
    node = ref.resolve_ref("go.opentelemetry.io/collector/config/confighttp.client_config", TRANSFORM_PKG)
    assert node is not None and "proxy_url" in node.schema["properties"]
    prw = ref.component_schema("exporters", "prometheus_remote_write")
    assert prw is not None
    props, is_open = ref.properties(prw)
    assert {"endpoint", "tls", "headers", "timeout", "retry_on_failure", "namespace"} <= set(props)
    assert "initial_interval" not in props and not is_open


def test_ref_to_component_package_config_is_its_root_schema(ref: Reference) -> None:
    node = ref.resolve_ref("go.opentelemetry.io/collector/exporter/otlpexporter.config", "anything")
    assert node is not None and "sending_queue" in node.schema["properties"]


def test_ref_unresolvable_is_open_only_when_known(ref: Reference) -> None:
    assert ref.resolve_ref("time.duration", "x") is None
    health = ref.component_schema("extensions", "health_check")
    assert health is not None and ref.properties(health)[1] is True
    with pytest.raises(SchemaError):
        ref.resolve_ref("/config/configtls.no_such_def", f"{CORE_MODULE}/receiver/otlpreceiver")


def test_every_reachable_ref_resolves_or_is_known_unresolvable(ref: Reference) -> None:
    unresolved: set[str] = set()
    schemas = 0
    for cls in CLASSES:
        for info in {i.type: i for i in ref.components[cls].values()}.values():
            node = ref.component_schema(cls, info.type)
            if node is not None:
                schemas += 1
                unresolved |= {name for name, ok in ref.reachable_refs(node).items() if not ok}
    assert schemas == 26
    assert unresolved <= UNRESOLVABLE_REFS
    assert len(unresolved) >= 3


# --- locating the reference data --------------------------------------------------------------------


def test_find_reference_prefers_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    real = find_reference()
    monkeypatch.setenv(otelcol_schema.ENV_VAR, str(real))
    monkeypatch.setattr(otelcol_schema, "DEFAULT_LOCATIONS", ())
    assert find_reference() == real


def test_find_reference_fails_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(otelcol_schema.ENV_VAR, str(tmp_path / "nowhere"))
    monkeypatch.setattr(otelcol_schema, "DEFAULT_LOCATIONS", (tmp_path / "elsewhere",))
    with pytest.raises(FileNotFoundError) as excinfo:
        find_reference()
    assert str(tmp_path / "nowhere") in str(excinfo.value) and str(tmp_path / "elsewhere") in str(excinfo.value)
