"""The FOCUS span exporter: real openai SDK (OpenAI and Azure OpenAI PTU) over httpx2.MockTransport, the real
OTel SDK, rows read back from CSV, JSON Lines and Parquet. Costs by hand in focus_testkit."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from focus_testkit import (
    FIXTURES,
    O4_MINI_COST,
    O4_MINI_TOKENS,
    PTU_LIST_COST,
    PTU_TOKENS,
    Workload,
    at,
    workload_fixture,  # noqa: F401
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_ai_cost.exporters.focus import COLUMN_NAMES, FocusSpanExporter, write_rows

MANDATORY_FOCUS_1_2 = {
    "BilledCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
}


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


LATER = ns("2026-04-02T00:00:00") / 1e9


def spread(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    """The workload's spans over two hours that are also two billing months."""
    search_1, search_2, ptu, support, rate_limited, unknown = spans
    return [
        at(search_1, ns("2026-03-31T23:05:00")),
        at(search_2, ns("2026-03-31T23:50:00")),
        at(ptu, ns("2026-03-31T23:10:00")),
        at(support, ns("2026-03-31T23:20:00")),
        at(rate_limited, ns("2026-03-31T23:30:00")),
        at(unknown, ns("2026-04-01T00:15:00")),
        at(search_1, ns("2026-04-01T00:40:00")),
    ]


def by_group(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(row["ChargePeriodStart"], row["ResourceName"], json.loads(row["Tags"])["team"]): row for row in rows}


def read_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def csv_rows(workload: Workload, tmp_path: Path) -> list[dict[str, Any]]:
    exporter = FocusSpanExporter(tmp_path / "focus.csv", clock=lambda: LATER)
    exporter.export(spread(workload.run()))
    exporter.shutdown()
    return read_csv(tmp_path / "focus.csv")


def test_rows_are_summed_per_hour_and_tag_set(csv_rows: list[dict[str, Any]]) -> None:
    rows = by_group(csv_rows)
    assert sorted(rows) == [
        ("2026-03-31T23:00:00Z", "o4-mini", "search"),
        ("2026-03-31T23:00:00Z", "o4-mini", "support"),
        ("2026-03-31T23:00:00Z", "ptu-east", "search"),
        ("2026-04-01T00:00:00Z", "mystery-model-x", "research"),
        ("2026-04-01T00:00:00Z", "o4-mini", "search"),
    ]  # the HTTP 429 is not billable and is not exported
    two = rows[("2026-03-31T23:00:00Z", "o4-mini", "search")]
    assert int(two["x_Requests"]) == 2
    # 2 x 0.0062326 = 0.0124652
    assert float(two["BilledCost"]) == pytest.approx(0.0124652)
    assert (
        float(two["EffectiveCost"])
        == float(two["ListCost"])
        == float(two["ContractedCost"])
        == float(two["BilledCost"])
    )
    assert float(two["ConsumedQuantity"]) == 2 * O4_MINI_TOKENS == 6562
    assert (two["ConsumedUnit"], two["PricingUnit"], float(two["PricingQuantity"])) == ("Tokens", "Tokens", 6562)
    assert (int(two["x_InputTokens"]), int(two["x_CacheReadTokens"]), int(two["x_OutputTokens"])) == (4012, 3840, 2550)
    assert int(two["x_ReasoningTokens"]) == 2048
    assert json.loads(two["Tags"]) == {"team": "search", "feature": "answers", "environment": "production"}
    one = rows[("2026-04-01T00:00:00Z", "o4-mini", "search")]
    assert int(one["x_Requests"]) == 1 and float(one["BilledCost"]) == pytest.approx(O4_MINI_COST)
    support = rows[("2026-03-31T23:00:00Z", "o4-mini", "support")]
    assert float(support["BilledCost"]) == pytest.approx(O4_MINI_COST)


def test_focus_columns_and_values(csv_rows: list[dict[str, Any]]) -> None:
    assert list(csv_rows[0]) == list(COLUMN_NAMES)
    assert MANDATORY_FOCUS_1_2 <= set(COLUMN_NAMES)
    assert all(name[0].isupper() or name.startswith("x_") for name in COLUMN_NAMES)
    row = by_group(csv_rows)[("2026-03-31T23:00:00Z", "o4-mini", "support")]
    assert row["BillingCurrency"] == "USD"
    assert (row["BillingPeriodStart"], row["BillingPeriodEnd"]) == ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    assert (row["ChargePeriodStart"], row["ChargePeriodEnd"]) == ("2026-03-31T23:00:00Z", "2026-04-01T00:00:00Z")
    assert (row["ChargeCategory"], row["ChargeClass"], row["ChargeFrequency"]) == ("Usage", "", "Usage-Based")
    assert row["ChargeDescription"] == "chat tokens of o4-mini-2025-04-16 on OpenAI API, on demand"
    assert (row["ServiceCategory"], row["ServiceSubcategory"]) == ("AI and Machine Learning", "Generative AI")
    assert (row["ServiceName"], row["ProviderName"], row["PublisherName"], row["InvoiceIssuerName"]) == (
        "OpenAI API",
        "OpenAI",
        "OpenAI",
        "OpenAI",
    )
    assert (row["ResourceId"], row["ResourceName"]) == ("api.openai.com/o4-mini", "o4-mini")
    assert row["SkuId"] == "openai/o4-mini-2025-04-16/tokens"
    assert (row["PricingCategory"], row["x_Commitment"], row["x_Operation"]) == ("Standard", "on_demand", "chat")
    assert row["CommitmentDiscountId"] == row["RegionId"] == row["SubAccountId"] == row["BillingAccountId"] == ""
    april = by_group(csv_rows)[("2026-04-01T00:00:00Z", "o4-mini", "search")]
    assert (april["BillingPeriodStart"], april["BillingPeriodEnd"]) == ("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z")


def test_provisioned_deployment_row_costs_nothing_and_lists_its_pay_as_you_go_price(
    csv_rows: list[dict[str, Any]],
) -> None:
    ptu = by_group(csv_rows)[("2026-03-31T23:00:00Z", "ptu-east", "search")]
    assert float(ptu["BilledCost"]) == float(ptu["EffectiveCost"]) == 0.0
    # 179 x 2.50 + 1664 x 1.25 + 19 x 10 = 2717.5 per 1M
    assert float(ptu["ListCost"]) == pytest.approx(PTU_LIST_COST) == pytest.approx(0.0027175)
    assert float(ptu["ContractedCost"]) == float(ptu["ListCost"])
    assert float(ptu["ConsumedQuantity"]) == PTU_TOKENS
    assert (ptu["PricingCategory"], ptu["x_Commitment"]) == ("Committed", "provisioned")
    assert ptu["CommitmentDiscountId"] == "contoso-eastus2.openai.azure.com/ptu-east" == ptu["ResourceId"]
    assert (ptu["CommitmentDiscountStatus"], ptu["CommitmentDiscountCategory"]) == ("Used", "Usage")
    assert (ptu["ProviderName"], ptu["ServiceName"], ptu["PublisherName"]) == (
        "Microsoft",
        "Azure OpenAI Service",
        "OpenAI",
    )
    assert ptu["SkuId"] == "azure.ai.openai/gpt-4o-2024-11-20/tokens"


def test_unpriced_requests_have_null_costs_and_are_counted(csv_rows: list[dict[str, Any]]) -> None:
    unknown = by_group(csv_rows)[("2026-04-01T00:00:00Z", "mystery-model-x", "research")]
    for column in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        assert unknown[column] == "", column  # null, not 0
    # FOCUS wants the pricing model and quantity of every usage row: known, only the rate is not
    assert (unknown["PricingCategory"], float(unknown["PricingQuantity"]), unknown["PricingUnit"]) == (
        "Standard",
        O4_MINI_TOKENS,
        "Tokens",
    )
    assert (int(unknown["x_UnpricedRequests"]), unknown["x_UnpricedReason"]) == (1, "unknown_model")
    assert unknown["ChargeDescription"].endswith(", unpriced")
    assert all(int(row["x_UnpricedRequests"]) == 0 for row in csv_rows if row is not unknown)


def test_jsonl_keeps_types_and_nulls(workload: Workload, tmp_path: Path) -> None:
    exporter = FocusSpanExporter(tmp_path / "focus.jsonl", clock=lambda: LATER)
    exporter.export(spread(workload.run()))
    exporter.shutdown()
    rows = [json.loads(line) for line in (tmp_path / "focus.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and list(rows[0]) == list(COLUMN_NAMES)
    unknown = next(row for row in rows if row["x_UnpricedRequests"])
    assert unknown["BilledCost"] is None and unknown["ChargeClass"] is None
    ptu = next(row for row in rows if row["ResourceName"] == "ptu-east")
    assert ptu["EffectiveCost"] == 0.0 and ptu["ListCost"] == pytest.approx(0.0027175) and ptu["x_Requests"] == 1


def test_parquet_round_trip(workload: Workload, tmp_path: Path) -> None:
    exporter = FocusSpanExporter(tmp_path / "focus.parquet", clock=lambda: LATER)
    exporter.export(spread(workload.run()))
    exporter.shutdown()
    table = pq.read_table(tmp_path / "focus.parquet")
    assert table.column_names == list(COLUMN_NAMES)
    assert table.schema.field("BilledCost").type == pa.float64()
    assert table.schema.field("x_Requests").type == pa.int64()
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("ms", tz="UTC")
    rows = table.to_pylist()
    assert sum(row["x_Requests"] for row in rows) == 6
    ptu = next(row for row in rows if row["ResourceName"] == "ptu-east")
    assert ptu["ChargePeriodStart"] == datetime(2026, 3, 31, 23, tzinfo=UTC)
    assert (ptu["EffectiveCost"], ptu["ListCost"]) == (0.0, pytest.approx(0.0027175))
    unknown = next(row for row in rows if row["x_UnpricedRequests"])
    assert unknown["BilledCost"] is None


def test_a_parquet_file_keeps_the_rows_of_earlier_runs(workload: Workload, tmp_path: Path) -> None:
    """A Parquet file is rewritten whole at each write: a restarted process must not drop what the
    file already held (CSV and JSON Lines files are appended to)."""
    spans = spread(workload.run())
    for run in (spans[:3], spans[3:]):
        exporter = FocusSpanExporter(tmp_path / "focus.parquet", clock=lambda: LATER)
        exporter.export(run)
        exporter.shutdown()
    rows = pq.read_table(tmp_path / "focus.parquet").to_pylist()
    assert sum(row["x_Requests"] for row in rows) == 6
    ptu = next(row for row in rows if row["ResourceName"] == "ptu-east")
    assert ptu["ChargePeriodStart"] == datetime(2026, 3, 31, 23, tzinfo=UTC)


def test_a_parquet_write_cut_short_leaves_the_file_as_it_was(
    workload: Workload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "focus.parquet"
    spans = spread(workload.run())
    first = FocusSpanExporter(path, clock=lambda: LATER)
    first.export(spans[:3])
    first.shutdown()
    before = pq.read_table(path).to_pylist()
    real_write = pq.write_table

    def write_half_then_fail(table: Any, where: Any, **options: Any) -> None:
        Path(where).write_bytes(b"PAR1 half a file")  # the disk filled up, the process was killed
        raise OSError("No space left on device")

    monkeypatch.setattr(pq, "write_table", write_half_then_fail)
    second = FocusSpanExporter(path, clock=lambda: LATER)
    second.export(spans[3:])
    assert not second.force_flush()  # the rows are kept for the next try
    assert pq.read_table(path).to_pylist() == before
    assert not list(tmp_path.glob(".focus.parquet.*.tmp"))  # no temporary file left (the .lock file stays)
    monkeypatch.setattr(pq, "write_table", real_write)
    assert second.force_flush()
    assert sum(row["x_Requests"] for row in pq.read_table(path).to_pylist()) == 6


def parquet_rows(workload: Workload, tmp_path: Path) -> list[dict[str, Any]]:
    """The FOCUS rows of the workload, as a Parquet file holds them."""
    exporter = FocusSpanExporter(tmp_path / "seed.parquet", clock=lambda: LATER)
    exporter.export(spread(workload.run()))
    exporter.shutdown()
    rows: list[dict[str, Any]] = pq.read_table(tmp_path / "seed.parquet").to_pylist()
    return rows


def test_a_parquet_file_behind_a_symlink_is_written_through_it(workload: Workload, tmp_path: Path) -> None:
    real = tmp_path / "real.parquet"
    link = tmp_path / "focus.parquet"
    link.symlink_to(real)
    exporter = FocusSpanExporter(link, clock=lambda: LATER)
    exporter.export(spread(workload.run()))
    exporter.shutdown()
    assert link.is_symlink()
    assert sum(row["x_Requests"] for row in pq.read_table(real).to_pylist()) == 6


def test_a_rewritten_parquet_file_keeps_its_mode(workload: Workload, tmp_path: Path) -> None:
    path = tmp_path / "focus.parquet"
    rows = parquet_rows(workload, tmp_path)
    write_rows(rows, path, "parquet", append=True)
    path.chmod(0o640)  # e.g. readable by the FinOps group
    write_rows(rows, path, "parquet", append=True)
    assert path.stat().st_mode & 0o777 == 0o640


def test_parquet_to_a_pipe_is_written_in_place(workload: Workload, tmp_path: Path) -> None:
    fifo = tmp_path / "focus.parquet"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    rows = parquet_rows(workload, tmp_path)
    write_rows(rows, fifo, "parquet", append=False)
    reader.join(10)
    assert fifo.exists() and not fifo.is_file()  # still the pipe: pyarrow deletes a path it fails to write
    assert pq.read_table(pa.BufferReader(received[0])).to_pylist() == rows


def test_threads_appending_to_one_parquet_file_lose_no_rows(workload: Workload, tmp_path: Path) -> None:
    path = tmp_path / "focus.parquet"
    rows = parquet_rows(workload, tmp_path)

    def append_ten() -> None:
        for _ in range(10):
            write_rows(rows, path, "parquet", append=True)

    threads = [threading.Thread(target=append_ten) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert pq.read_table(path).num_rows == 40 * len(rows)


def test_in_the_sdk_pipeline_rows_are_written_on_flush_and_when_the_hour_is_over(
    workload: Workload, tmp_path: Path
) -> None:
    now = [ns("2026-05-10T14:59:00") / 1e9]
    exporter = FocusSpanExporter(tmp_path / "out", clock=lambda: now[0])
    hour_14 = [at(span, ns("2026-05-10T14:30:00")) for span in workload.run()]
    exporter.export(hour_14)
    assert not (tmp_path / "out").exists()  # the hour is still open
    now[0] = ns("2026-05-10T15:00:01") / 1e9
    exporter.export([at(hour_14[0], ns("2026-05-10T15:00:00"))])
    written = read_csv(tmp_path / "out" / "ai-cost-focus-2026-05.csv")
    assert {row["ChargePeriodStart"] for row in written} == {"2026-05-10T14:00:00Z"}
    assert sum(int(row["x_Requests"]) for row in written) == 5
    exporter.shutdown()  # the open hour 15 is written at shutdown, appended without a second header
    written = read_csv(tmp_path / "out" / "ai-cost-focus-2026-05.csv")
    assert [row["ChargePeriodStart"] for row in written][-1] == "2026-05-10T15:00:00Z"
    assert sum(int(row["x_Requests"]) for row in written) == 6


def test_behind_a_batch_span_processor_the_open_hour_is_written_at_shutdown(workload: Workload, tmp_path: Path) -> None:
    exporter = FocusSpanExporter(tmp_path / "now.csv")
    workload.tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    workload.run()
    workload.tracer_provider.shutdown()
    rows = read_csv(tmp_path / "now.csv")
    assert sum(int(row["x_Requests"]) for row in rows) == 5
    assert sum(float(row["BilledCost"] or 0) for row in rows) == pytest.approx(3 * O4_MINI_COST)


def blocked(tmp_path: Path) -> tuple[Path, FocusSpanExporter]:
    """An exporter whose directory is a file: every write fails until the file is removed."""
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the exporter wants a directory")
    return blocker, FocusSpanExporter(blocker / "focus.csv", clock=lambda: LATER)


def test_a_failed_write_keeps_its_rows_and_never_raises(
    workload: Workload, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker, exporter = blocked(tmp_path)
    with caplog.at_level(logging.WARNING, logger="otel_ai_cost"):
        exporter.export(spread(workload.run()))
        assert exporter.force_flush() is False
    assert "kept for the next try" in caplog.text
    blocker.unlink()
    assert exporter.force_flush() is True
    assert sum(int(row["x_Requests"]) for row in read_csv(blocker / "focus.csv")) == 6


def test_rows_unwritten_at_shutdown_are_reported(
    workload: Workload, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, exporter = blocked(tmp_path)
    exporter.export(spread(workload.run()))
    with caplog.at_level(logging.ERROR, logger="otel_ai_cost"):
        exporter.shutdown()
    assert "5 FOCUS row(s) could not be written" in caplog.text


def test_settings_from_the_environment_and_the_entry_point(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (found,) = entry_points(group="opentelemetry_traces_exporter", name="ai_cost_focus")
    monkeypatch.setenv("OTEL_AI_COST_FOCUS_PATH", str(tmp_path / "focus"))
    monkeypatch.setenv("OTEL_AI_COST_FOCUS_FORMAT", "jsonl")
    exporter = found.load()()
    assert isinstance(exporter, FocusSpanExporter)
    assert (exporter.path, exporter.output_format) == (tmp_path / "focus", "jsonl")
    monkeypatch.setenv("OTEL_AI_COST_FOCUS_FORMAT", "xlsx")
    assert FocusSpanExporter().output_format == "csv"


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("focus.json", "ends in .json"),  # was made a directory of CSV files
        ("plainfile", "is a file"),  # every write failed, and the rows were lost at shutdown
    ],
)
def test_a_path_neither_a_focus_file_nor_a_directory_is_reported_at_start_up(
    workload: Workload,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    setting: str,
    problem: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plainfile").write_text("not the exporter's\n")
    monkeypatch.setenv("OTEL_AI_COST_FOCUS_PATH", setting)
    with caplog.at_level(logging.WARNING, logger="otel_ai_cost"):
        exporter = FocusSpanExporter(clock=lambda: LATER)
    assert [r.getMessage() for r in caplog.records] == [
        f"otel-ai-cost: OTEL_AI_COST_FOCUS_PATH={setting} {problem}: a file path needs a .csv, .jsonl or .parquet "
        "suffix, or a directory; writing to ./ai-cost-focus instead"
    ]
    caplog.clear()
    exporter.export(spread(workload.run()))
    with caplog.at_level(logging.WARNING, logger="otel_ai_cost"):
        exporter.shutdown()
    assert [r.getMessage() for r in caplog.records if r.name == "otel_ai_cost.exporters.focus"] == []
    written = sorted((tmp_path / "ai-cost-focus").glob("*.csv"))
    assert sum(int(row["x_Requests"]) for file in written for row in read_csv(file)) == 6
    assert not (tmp_path / "focus.json").exists()
    assert (tmp_path / "plainfile").read_text() == "not the exporter's\n"


APP = """
import json, httpx2, openai
from otel_ai_cost import tags
body = (FIXTURES / "openai_chat_cached_reasoning.json").read_bytes()
http = httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, content=body)))
client = openai.OpenAI(api_key="sk-test-not-a-key", http_client=http)
with tags(team="search", feature="answers"):
    for _ in range(3):
        client.chat.completions.create(model="o4-mini", messages=[{"role": "user", "content": "hi"}])
"""


def test_zero_code_opentelemetry_instrument_writes_the_rows_at_exit(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(f"from pathlib import Path\nFIXTURES = Path({str(FIXTURES)!r})\n{APP}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OTEL_TRACES_EXPORTER="ai_cost_focus",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_AI_COST_FOCUS_PATH=str(tmp_path / "focus"),
        OTEL_AI_COST_FOCUS_FORMAT="jsonl",
    )
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "opentelemetry-instrument"), sys.executable, str(app)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    # one row, or two if the requests straddled an hour (or month) boundary
    rows = [json.loads(line) for file in (tmp_path / "focus").glob("*.jsonl") for line in file.read_text().splitlines()]
    # 3 x 0.0062326 = 0.0186978
    assert sum(row["x_Requests"] for row in rows) == 3
    assert sum(row["BilledCost"] for row in rows) == pytest.approx(0.0186978)
    assert all(json.loads(row["Tags"]) == {"team": "search", "feature": "answers"} for row in rows)
