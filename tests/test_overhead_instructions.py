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
