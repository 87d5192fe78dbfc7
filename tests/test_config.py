"""`OTEL_AI_COST_*` settings: a bad value names its variable, and where it is only logged (the
instrumentor, the default engine) that one setting keeps its default while the others are read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


PROBE = """
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from otel_ai_cost import AICostInstrumentor, Usage
AICostInstrumentor().instrument(tracer_provider=TracerProvider(), meter_provider=MeterProvider())
recorder = AICostInstrumentor._active["recorder"]
cost = recorder.engine.price(Usage(provider="openai", request_model="gpt-4o-mini", input_tokens=1_000_000))
print(cost.total_usd, dict(recorder.tag_policy.resolve(None).tags)["team"])
"""


def test_a_typo_in_one_variable_leaves_the_prices_file_and_tags_in_force(tmp_path: Path) -> None:
    """Before, one bad variable made the instrumentor use every default: the prices file's discount
    and the default tags were silently dropped. (A fresh interpreter: the default engine is built
    once per process.)"""
    prices = tmp_path / "prices.yaml"
    prices.write_text("discounts:\n  - {provider: openai, percent: 50}\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_AI_COST_")}
    env.update(
        OTEL_AI_COST_PRICES_FILE=str(prices),
        OTEL_AI_COST_DEFAULT_TAGS="team=search",
        OTEL_AI_COST_SEMCONV_METRICS="disabled",
    )
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # 1M x $0.15 per 1M, 50 % off = $0.075; the tags of untagged code from OTEL_AI_COST_DEFAULT_TAGS
    assert result.stdout.split() == ["0.075", "search"]
    assert "OTEL_AI_COST_SEMCONV_METRICS='disabled'" in result.stderr


def test_each_bad_setting_is_logged_once() -> None:
    """The instrumentor and the default engine both read the settings: each bad value was logged
    twice, and a bad endpoint map's message named OTEL_AI_COST_ENDPOINTS twice."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_AI_COST_")}
    env.update(OTEL_AI_COST_PRICES_RELOAD_SECONDS="abc", OTEL_AI_COST_ENDPOINTS="garbage")
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("OTEL_AI_COST_PRICES_RELOAD_SECONDS='abc' is not a number") == 1, result.stderr
    assert result.stderr.count("OTEL_AI_COST_ENDPOINTS") == 1, result.stderr
    assert "entry 'garbage' is not URL=PROTOCOL" in result.stderr


def test_a_bad_setting_is_not_logged_again_when_instrumenting_again() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_AI_COST_")}
    env.update(OTEL_AI_COST_ENDPOINTS="garbage", OTEL_AI_COST_DEFAULT_TAGS="team")
    cycles = PROBE + "AICostInstrumentor().uninstrument()\nAICostInstrumentor().instrument()\n" * 2
    result = subprocess.run([sys.executable, "-c", cycles], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("OTEL_AI_COST_ENDPOINTS") == 1, result.stderr
    assert result.stderr.count("ignoring OTEL_AI_COST_DEFAULT_TAGS") == 1, result.stderr


@pytest.mark.parametrize(
    ("variables", "ignored"),
    [
        ({"OTEL_AI_COST_REQUIRED_TAGS": "team,source"}, "ignoring OTEL_AI_COST_REQUIRED_TAGS"),
        ({"OTEL_AI_COST_DEFAULT_TAGS": "priced=yes"}, "ignoring OTEL_AI_COST_DEFAULT_TAGS"),
    ],
)
def test_a_reserved_tag_name_in_a_setting_leaves_the_instrumentation_on(
    variables: dict[str, str], ignored: str
) -> None:
    """A reserved name (`source`, `priced`, ...) had switched off all instrumentation, budgets included,
    with a message blaming OTEL_AI_COST_DEFAULT_TAGS whichever variable held it."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_AI_COST_")}
    env.update(variables)
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "could not instrument" not in result.stderr and ignored in result.stderr
    cost, team = result.stdout.split()
    # gpt-4o-mini: 1M input tokens x $0.15 per 1M = $0.15; no team given: the default policy's untagged
    assert float(cost) == pytest.approx(0.15) and team == "untagged"
