"""Files people write (prices overrides, budgets, Prometheus rules) that cannot be used as written:
one clear error naming the file, never a traceback, and in the process the previous prices kept.

The CLI runs as a user runs it: a subprocess of the installed console script.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from otel_ai_cost import PriceEngine, Usage

CLI = shutil.which("otel-ai-cost", path=os.path.dirname(sys.executable)) or "otel-ai-cost"
M = 1_000_000

LATIN1 = b"models: []\n# caf\xe9 (saved as Latin-1)\n"
UTF16 = "models: []\n".encode("utf-16")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_AI_COST_")}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize(("content", "where"), [(LATIN1, "byte 0xe9 on line 2"), (UTF16, "byte 0xff on line 1")])
@pytest.mark.parametrize(
    "command",
    [
        ["prices", "check", "{file}"],
        ["--prices-file", "{file}", "price", "gpt-4o", "--input-tokens", "1"],
        ["alerts", "budgets", "{file}"],
        ["alerts", "grafana", "{file}"],
    ],
)
def test_a_file_not_in_utf8_is_a_one_line_error(tmp_path: Path, content: bytes, where: str, command: list[str]) -> None:
    path = tmp_path / "file.yaml"
    path.write_bytes(content)
    result = run(*(part.format(file=path) for part in command))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"otel-ai-cost: error: {path}: cannot read: not UTF-8 ({where}); save it as UTF-8"
    ]


def test_a_prices_file_not_in_utf8_at_start_up_leaves_the_catalog_prices(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "prices.yaml"
    path.write_bytes(LATIN1)
    with caplog.at_level(logging.ERROR):
        engine = PriceEngine(path, reload_interval=0)
    assert any("not UTF-8" in r.getMessage() for r in caplog.records)
    cost = engine.price(Usage(provider="openai", request_model="gpt-4o", input_tokens=1000))
    assert cost.priced and cost.total_usd == pytest.approx(1000 * 2.50 / M)


def test_a_prices_file_turned_non_utf8_at_run_time_keeps_the_previous_prices(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - {provider: vllm, model: m, tokens: {input: 2}}\n", encoding="utf-8")
    engine = PriceEngine(path, reload_interval=0)
    request = Usage(provider="vllm", request_model="m", input_tokens=1000)
    assert engine.price(request).total_usd == pytest.approx(2000 / M)

    path.write_bytes(b"models:\n  - {provider: vllm, model: m, tokens: {input: 9}}  # caf\xe9\n")
    os.utime(path, ns=(1, 10**18))  # a distinct mtime even on coarse file systems
    with caplog.at_level(logging.ERROR):
        cost = engine.price(request)
    assert cost.priced and cost.total_usd == pytest.approx(2000 / M)
    assert any(
        "not UTF-8" in r.getMessage() and "keeping the previous prices" in r.getMessage() for r in caplog.records
    )
