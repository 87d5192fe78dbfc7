"""The overhead benchmark runs and measures what it claims: real instrumented calls that make priced spans.

A smoke run (a few calls of each kind); no timing is asserted, only that the report is complete and
that the instrumented calls it timed really went through the instrumentation.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "overhead_bench.py"

# Prices (USD per 1M tokens): gpt-4o-mini input 0.15, cached input 0.075, output 0.60;
# text-embedding-3-small 0.02; dall-e-3 standard 1024x1024 $0.04 per image.
EXPECTED_COST = {
    # 176 x 0.15 + 1024 x 0.075 + 300 x 0.60 = 26.4 + 76.8 + 180 = 283.2 per 1M
    "chat completion": 0.0002832,
    # 1000 x 0.15 + 47 x 0.60 = 150 + 28.2 = 178.2 per 1M
    "chat stream (50 chunks)": 0.0001782,
    # one standard 1024x1024 image
    "image (dall-e-3)": 0.04,
    # 9 x 0.02 = 0.18 per 1M
    "embeddings": 0.00000018,
}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object]]:
    figures = tmp_path_factory.mktemp("bench") / "figures.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(figures)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr  # a report, whatever the figures, without --check
    return result.stdout, json.loads(figures.read_text())


def test_report_has_every_section(smoke_run: tuple[str, dict[str, object]]) -> None:
    report, _ = smoke_run
    for heading in ("[1/3] per-call overhead", "[2/3] import otel_ai_cost", "[3/3] resident memory", "summary"):
        assert heading in report, report
    for scenario in EXPECTED_COST:
        assert scenario in report
    assert "per chunk of the stream" in report
    summary = report.split("\nsummary\n", 1)[1].splitlines()
    assert len(summary) == 3 and all(line.endswith(("meets", "MISSES")) for line in summary), summary


def test_instrumented_runs_made_one_priced_span_per_call(smoke_run: tuple[str, dict[str, object]]) -> None:
    _, figures = smoke_run
    calls = figures["calls"]
    assert isinstance(calls, list)
    assert [c["scenario"] for c in calls] == list(EXPECTED_COST)
    for c in calls:
        assert c["spans_per_call"] == 1.0, c  # and the baseline made none, or the run would have stopped
        assert c["cost_usd"] == pytest.approx(EXPECTED_COST[c["scenario"]]), c
        # a smoke run's single pair can make a difference of noise negative: figures only have to exist
        assert all(math.isfinite(c[key]) for key in ("baseline_us", "overhead_us", "floor_us", "floor_alone_us"))
    rss = figures["rss"]
    assert isinstance(rss, dict)
    assert rss["spans"] == rss["calls"] > 0


def test_import_and_instrument_load_no_ai_sdk_nor_pydantic(smoke_run: tuple[str, dict[str, object]]) -> None:
    _, figures = smoke_run
    imports = figures["import"]
    assert isinstance(imports, dict)
    assert imports["sdks_loaded"] == []
    assert imports["total_ms"] > 0 and imports["ours_ms"] > 0
