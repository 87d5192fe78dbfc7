"""`OTEL_AI_COST_*` settings: a bad value names its variable, and where it is only logged (the
instrumentor, the default engine) that one setting keeps its default while the others are read."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from otel_ai_cost import AICostInstrumentor, Usage
from otel_ai_cost.config import ConfigError, Settings

GOOD = {
    "OTEL_AI_COST_PRICES_RELOAD_SECONDS": "5",
    "OTEL_AI_COST_MAX_TAG_VALUES": "20",
    "OTEL_AI_COST_ESTIMATE_STREAM_USAGE": "true",
    "OTEL_AI_COST_SEMCONV_METRICS": "false",
    "OTEL_AI_COST_DEFAULT_TAGS": "team=search",
}
BAD = [
    ("OTEL_AI_COST_PRICES_RELOAD_SECONDS", "soon"),
    ("OTEL_AI_COST_PRICES_RELOAD_SECONDS", "-1"),
    ("OTEL_AI_COST_PRICES_RELOAD_SECONDS", "nan"),
    ("OTEL_AI_COST_MAX_TAG_VALUES", "nan"),
    ("OTEL_AI_COST_MAX_TAG_VALUES", "inf"),
    ("OTEL_AI_COST_MAX_TAG_VALUES", "1e400"),
    ("OTEL_AI_COST_MAX_TAG_VALUES", "1.5"),
    ("OTEL_AI_COST_MAX_TAG_VALUES", "0"),
    ("OTEL_AI_COST_ESTIMATE_STREAM_USAGE", "maybe"),
    ("OTEL_AI_COST_SEMCONV_METRICS", "disabled"),
]


def test_good_values_are_read() -> None:
    settings = Settings.from_env(GOOD)
    assert (settings.prices_reload_seconds, settings.max_tag_values) == (5.0, 20)
    assert (settings.estimate_stream_usage, settings.semconv_metrics) == (True, False)
    assert settings.default_tags == "team=search"


@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_value_raises_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**GOOD, name: value})


@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_value_keeps_its_default_and_the_others_are_read(name: str, value: str) -> None:
    errors: list[ConfigError] = []
    settings = Settings.from_env({**GOOD, name: value}, errors=errors)
    assert len(errors) == 1 and name in str(errors[0])
    expected = Settings.from_env(GOOD)
    field = {
        "OTEL_AI_COST_PRICES_RELOAD_SECONDS": "prices_reload_seconds",
        "OTEL_AI_COST_MAX_TAG_VALUES": "max_tag_values",
        "OTEL_AI_COST_ESTIMATE_STREAM_USAGE": "estimate_stream_usage",
        "OTEL_AI_COST_SEMCONV_METRICS": "semconv_metrics",
    }[name]
    for other in ("prices_reload_seconds", "max_tag_values", "estimate_stream_usage", "semconv_metrics"):
        want = getattr(Settings(), other) if other == field else getattr(expected, other)
        assert getattr(settings, other) == want, other
    assert settings.default_tags == "team=search"


def test_a_typo_in_one_variable_leaves_the_prices_file_and_tags_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, one bad variable made the instrumentor use every default: the prices file's discount
    and the default tags were silently dropped."""
    prices = tmp_path / "prices.yaml"
    prices.write_text("discounts:\n  - {provider: openai, percent: 50}\n")
    for name in [name for name in os.environ if name.startswith("OTEL_AI_COST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_AI_COST_PRICES_FILE", str(prices))
    monkeypatch.setenv("OTEL_AI_COST_DEFAULT_TAGS", "team=search")
    monkeypatch.setenv("OTEL_AI_COST_SEMCONV_METRICS", "disabled")
    instrumentor = AICostInstrumentor()
    with caplog.at_level(logging.ERROR):
        instrumentor.instrument(tracer_provider=TracerProvider(), meter_provider=MeterProvider())
    try:
        recorder = AICostInstrumentor._active["recorder"]
        cost = recorder.engine.price(Usage(provider="openai", request_model="gpt-4o-mini", input_tokens=1_000_000))
        assert cost.total_usd == pytest.approx(0.075)  # 1M x $0.15 per 1M, 50 % off
        assert dict(recorder.tag_policy.resolve(None).tags)["team"] == "search"
        assert "OTEL_AI_COST_SEMCONV_METRICS='disabled'" in caplog.text
    finally:
        instrumentor.uninstrument()
