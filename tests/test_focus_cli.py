"""`otel-ai-cost focus export`, run as a user runs it, on OTLP/JSON written with the collector's encoding
(the OTLP protobuf encoders + protobuf's JSON mapping) from real-SDK spans. Costs by hand in focus_testkit."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from focus_testkit import O4_MINI_COST, PTU_LIST_COST, Workload, at, workload_fixture  # noqa: F401
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan

from otel_ai_cost.exporters.focus import COLUMN_NAMES, FocusSpanExporter

CLI = shutil.which("otel-ai-cost", path=os.path.dirname(sys.executable)) or "otel-ai-cost"
HOUR_NS = 3600 * 1_000_000_000
START = 1_775_001_600 * 1_000_000_000  # 2026-04-01T00:00:00Z


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_AI_COST_")}
    return subprocess.run([CLI, "focus", "export", *args], capture_output=True, text=True, timeout=60, env=env)


def otlp_json(spans: list[ReadableSpan], indent: int | None = None) -> str:
    return MessageToJson(encode_spans(spans), indent=indent)


@pytest.fixture
def spans(workload: Workload) -> list[ReadableSpan]:
    """The workload twice: once in the first hour of April, once in the second."""
    finished = workload.run()
    return [at(span, START + 60_000_000_000 * i) for i, span in enumerate(finished)] + [
        at(span, START + HOUR_NS + 60_000_000_000 * i) for i, span in enumerate(finished)
    ]


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_collector_file_lines_give_the_exporters_rows(spans: list[ReadableSpan], tmp_path: Path) -> None:
    traces = tmp_path / "traces.json"  # the collector's `file` exporter: one request per line
    traces.write_text(otlp_json(spans[:5]).replace("\n", "") + "\n" + otlp_json(spans[5:]).replace("\n", "") + "\n")
    result = run(str(traces), "-o", str(tmp_path / "focus.csv"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"{tmp_path / 'focus.csv'}: 8 FOCUS row(s) from 10 AI request span(s)"

    exporter = FocusSpanExporter(tmp_path / "expected.csv", clock=lambda: START / 1e9)
    exporter.export(spans)
    exporter.shutdown()
    assert read_csv(tmp_path / "focus.csv") == read_csv(tmp_path / "expected.csv")

    rows = read_csv(tmp_path / "focus.csv")
    # per hour: search o4-mini x2, support o4-mini, search PTU, research unpriced (the 429 is not billable)
    assert sum(int(row["x_Requests"]) for row in rows) == 10
    # 2 hours x 3 o4-mini requests x 0.0062326 = 0.0373956
    assert sum(float(row["EffectiveCost"] or 0) for row in rows) == pytest.approx(6 * O4_MINI_COST)
    assert sum(float(row["EffectiveCost"] or 0) for row in rows) == pytest.approx(0.0373956)
    ptu = [row for row in rows if row["ResourceName"] == "ptu-east"]
    assert [float(row["ListCost"]) for row in ptu] == pytest.approx([PTU_LIST_COST, PTU_LIST_COST])
    assert {row["ChargePeriodStart"] for row in rows} == {"2026-04-01T00:00:00Z", "2026-04-01T01:00:00Z"}


def test_single_otlp_json_document_to_jsonl_on_stdout(spans: list[ReadableSpan], tmp_path: Path) -> None:
    traces = tmp_path / "traces.json"
    traces.write_text(otlp_json(spans, indent=2))  # pretty-printed, many lines
    result = run(str(traces), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 8 and list(rows[0]) == list(COLUMN_NAMES)
    unpriced = [row for row in rows if row["x_UnpricedRequests"]]
    assert len(unpriced) == 2 and all(row["BilledCost"] is None for row in unpriced)


def test_parquet_output(spans: list[ReadableSpan], tmp_path: Path) -> None:
    traces = tmp_path / "traces.json"
    traces.write_text(otlp_json(spans))
    result = run(str(traces), "-o", str(tmp_path / "focus.parquet"), "--billing-account-id", "org-123")
    assert result.returncode == 0, result.stderr
    rows = pq.read_table(tmp_path / "focus.parquet").to_pylist()
    assert len(rows) == 8 and {row["BillingAccountId"] for row in rows} == {"org-123"}


def one_span(start: object, attributes: list[object] | None = None) -> str:
    """An OTLP/JSON document of one span of ours."""
    span = {"startTimeUnixNano": start, "attributes": attributes or []}
    scope = {"scope": {"name": "otel_ai_cost.instrumentor"}, "spans": [span]}
    return json.dumps({"resourceSpans": [{"scopeSpans": [scope]}]})


def test_an_attribute_whose_key_is_not_a_string_is_left_out(tmp_path: Path) -> None:
    traces = tmp_path / "traces.json"
    attributes: list[object] = [
        {"key": 7, "value": {"stringValue": "x"}},
        {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
        {"key": "ai.cost.priced", "value": {"boolValue": True}},
    ]
    traces.write_text(one_span("1700000000000000000", attributes))
    result = run(str(traces), "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "traces.json: cannot read: No such file or directory"),
        ("", "traces.json: empty file, expected OTLP/JSON traces"),
        ('{"resourceSpans": []}\n{"resourceSpans": [\n', "traces.json: line 2: not JSON"),
        ("not json at all", "traces.json: line 1: not JSON: Expecting value"),
        ('{"resourceMetrics": []}', "traces.json: no `resourceSpans`: not OTLP/JSON traces"),
        ('{"resourceSpans": [{"scopeSpans": {}}]}', "traces.json: `scopeSpans` is not a list"),
        (one_span("99999999999999999999999"), "startTimeUnixNano 99999999999999999999999 is not a time"),
        (one_span("-1"), "startTimeUnixNano -1 is not a time between 1970 and 9999"),
        ("[" * 100_000 + "]" * 100_000, "traces.json: not OTLP/JSON traces: nested too deeply"),
        (
            '{"resourceSpans": []}\n' + "[" * 100_000 + "]" * 100_000,
            "traces.json: line 2: not OTLP/JSON traces: nested",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: str | None, message: str) -> None:
    traces = tmp_path / "traces.json"
    if content is not None:
        traces.write_text(content)
    result = run(str(traces), "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("otel-ai-cost: error: ") and message in result.stderr, result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_parquet_to_stdout_is_refused(tmp_path: Path) -> None:
    traces = tmp_path / "traces.json"
    traces.write_text('{"resourceSpans": []}')
    result = run(str(traces), "--format", "parquet")
    assert result.returncode == 2 and "parquet needs -o FILE" in result.stderr
