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
from script_testkit import load_script

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


def test_smoke_run_reports_an_interval_around_each_ratio(smoke_run: tuple[str, dict[str, object]]) -> None:
    report, figures = smoke_run
    assert "90% interval" in report
    calls = figures["calls"]
    assert isinstance(calls, list)
    for c in calls:
        # one pair: every resample is that pair, so the interval is the ratio itself
        assert c["ratio_low"] == c["ratio_high"] == c["ratio"], c


def test_ratio_interval_is_the_ratio_when_the_pairs_agree() -> None:
    bench = load_script(BENCH)
    baseline = [100.0, 250.0, 180.0, 90.0]
    # every pair: overhead 30, floor 20 -> 1.5x, whatever its baseline
    low, high = bench.ratio_interval(baseline, [b + 30 for b in baseline], [b + 20 for b in baseline])
    assert low == high == pytest.approx(1.5)


def test_ratio_interval_spans_the_spread_of_noisy_pairs() -> None:
    bench = load_script(BENCH)
    baseline = [100.0] * 40
    # overheads 20..59 and floors 20: median overhead 39.5 -> 1.975x. The median's standard error is
    # about 1.25 x 11.5 (the overheads' deviation) / sqrt(40) = 2.3 us, x 1.645 for 90 % = 3.8 us:
    # about (39.5 -+ 3.8) / 20 = 1.78x-2.16x, far inside the per-pair ratios' range 1.0x-2.95x
    instrumented = [100.0 + 20 + i for i in range(40)]
    by_hand = [120.0] * 40
    low, high = bench.ratio_interval(baseline, instrumented, by_hand)
    assert 1.65 < low < 1.9 and 2.05 < high < 2.3, (low, high)
    # a floor that is noise around zero: a resample with floor <= 0 has no finite ratio
    low, high = bench.ratio_interval([100.0] * 3, [130.0] * 3, [100.0, 99.0, 99.0])
    assert low == high == math.inf
