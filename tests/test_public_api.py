"""The package-level API: `price()` with the process-wide engine configured from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

import otel_ai_cost
from otel_ai_cost import Usage


@pytest.fixture(autouse=True)
def fresh_default_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otel_ai_cost, "_engine", None)


def test_price_uses_the_prices_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - {provider: vllm, model: m, tokens: {input: 2, output: 4}}\n")
    monkeypatch.setenv("OTEL_AI_COST_PRICES_FILE", str(path))
    cost = otel_ai_cost.price(Usage(provider="vllm", request_model="m", input_tokens=1000, output_tokens=500))
    # 1000 x 2 + 500 x 4 = 4000 per 1M
    assert cost.total_usd == pytest.approx(0.004)


def test_bad_setting_never_raises_into_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_AI_COST_PRICES_RELOAD_SECONDS", "-1")
    cost = otel_ai_cost.price(Usage(provider="openai", request_model="gpt-4o-mini", input_tokens=1000))
    # defaults apply: 1000 x 0.15 = 150 per 1M
    assert cost.total_usd == pytest.approx(0.00015)
