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


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "prices.yaml",
            "discounts:\n  - {provider: openai, percent: 10}\nmodels: []\n"
            "discounts:\n  - {provider: anthropic, percent: 5}\n",
            "duplicate key 'discounts' on line 4 (first on line 1): give each key once",
        ),
        (
            "prices.yaml",
            "models:\n  - provider: vllm\n    model: a\n    tokens: {input: 1, input: 2}\n",
            "duplicate key 'input' on line 4: give each key once",
        ),
        (
            "prices.json",
            '{"models": [{"provider": "vllm", "model": "a", "tokens": {"input": 1, "input": 2}}]}',
            "duplicate key 'input' in a JSON object: give each key once",
        ),
    ],
)
def test_a_key_given_twice_is_an_error_naming_it(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = run("prices", "check", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"otel-ai-cost: error: {path}: {message}"]


def test_a_budget_key_given_twice_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  - tags: {team: search}\n    usd: 50\n    usd: 5\n", encoding="utf-8")
    result = run("alerts", "budgets", str(path))
    assert result.returncode == 2
    assert "duplicate key 'usd' on line 4 (first on line 3)" in result.stderr


def test_a_key_may_override_one_merged_from_an_anchor(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n  - &base {provider: vllm, model: a, tokens: {input: 1}}\n  - <<: *base\n    model: b\n",
        encoding="utf-8",
    )
    result = run("prices", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert "ok: 2 model price(s)" in result.stdout
