"""The instruction-count benchmark runs under valgrind and attributes each block of calls to its mode.

One call per block (about 30 s): the figures are not asserted against a target, only that every
scenario was counted in all three modes, each block where it belongs (an instrumented call and a
call with the span and records by hand both execute more instructions than the bare call, and the
bare calls keep their known order of size: the 50-chunk stream is the largest).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from script_testkit import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "overhead_instructions.py"


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is installed by `make test`")
def test_every_scenario_is_counted_in_every_mode(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--calls", "1", "--json", str(figures)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    counted = {row["scenario"]: row for row in json.loads(figures.read_text())}
    assert set(counted) == {"chat completion", "chat stream (50 chunks)", "image (dall-e-3)", "embeddings"}
    for row in counted.values():
        assert row["baseline"] > 1_000_000  # an openai SDK call is millions of instructions
        assert 0 < row["overhead"] < row["baseline"]
        assert 0 < row["floor"] < row["baseline"]
    assert max(counted.values(), key=lambda row: row["baseline"])["scenario"] == "chat stream (50 chunks)"
    assert "overhead <= 1.5x floor in instructions:" in result.stdout


def test_bad_block_size_is_refused() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--calls", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--calls must be at least 1" in result.stderr


@pytest.mark.parametrize("kib", ["1000", "32", "0"])
def test_a_cache_size_valgrind_cannot_simulate_is_refused(kib: str) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--cache", "--cache-kib", kib], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "--cache-kib must be a power of two of at least 64" in result.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is installed by `make test`")
def test_cache_simulation_reports_misses_and_cycles(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--calls", "1", "--cache", "--json", str(figures)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(figures.read_text())
    assert len(rows) == 4
    for row in rows:
        cache = row["cache"]
        # an openai SDK call touches far more than a 1 MiB cache keeps between calls
        assert cache["baseline_misses"] > 100, row
        # the misses were weighed in: the cycles are not the instructions alone
        assert cache["overhead_cycles"] != row["overhead"] and cache["floor_cycles"] != row["floor"]
        assert cache["ratio"] == pytest.approx(cache["overhead_cycles"] / cache["floor_cycles"])
    assert "last-level cache misses per call (1 MiB simulated)" in result.stdout


def test_a_dump_with_simulated_caches_gives_estimated_cycles(tmp_path: Path) -> None:
    script = load_script(SCRIPT)
    dump = tmp_path / "callgrind.out.3"
    dump.write_text(
        "version: 1\ncreator: callgrind-3.19.0\n"
        "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\n"
        "fn=(1) main\n0 5 5 5 5 5 5 5 5 5\n"
        "totals: 1000 400 300 1 2 3 4 5 6\n"
    )
    events = script._events(str(dump))
    assert events["Ir"] == 1000 and events["DLmw"] == 6
    # 1000 instructions + 10 x (1 + 2 + 3) first-level misses + 100 x (4 + 5 + 6) last-level misses
    assert script._cycles(events) == 1000 + 60 + 1500
