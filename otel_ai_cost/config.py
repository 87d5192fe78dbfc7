"""Settings from `OTEL_AI_COST_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "OTEL_AI_COST_"


class ConfigError(ValueError):
    """An `OTEL_AI_COST_*` variable has a value that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    prices_file: str | None = None
    """`OTEL_AI_COST_PRICES_FILE`: YAML or JSON overrides (discounts, own models, deployments)."""
    prices_reload_seconds: float = 2.0
    """`OTEL_AI_COST_PRICES_RELOAD_SECONDS`: how often the overrides file is checked for changes."""
    default_tags: str = ""
    """`OTEL_AI_COST_DEFAULT_TAGS`: `team=search,cost_center=cc-42`, the tags of untagged code."""
    required_tags: tuple[str, ...] = ("team", "feature")
    """`OTEL_AI_COST_REQUIRED_TAGS`: dimensions that must be set, else `untagged`."""
    max_tag_values: int = 100
    """`OTEL_AI_COST_MAX_TAG_VALUES`: distinct values per dimension on metrics before `other`."""
    endpoints: str = ""
    """`OTEL_AI_COST_ENDPOINTS`: `http://127.0.0.1:8080/v1=openai:vllm,...`, gateways and self-hosted APIs."""
    estimate_stream_usage: bool = False
    """`OTEL_AI_COST_ESTIMATE_STREAM_USAGE`: price a stream that reported no usage from an estimate
    (input: request bytes / 4; output: one token per content delta), marked `ai.cost.estimated`."""
    semconv_metrics: bool = True
    """`OTEL_AI_COST_SEMCONV_METRICS`: false when another instrumentation already emits the GenAI
    token and duration histograms (openai-v2, anthropic's own tracing)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            prices_file=env.get(PREFIX + "PRICES_FILE") or None,
            prices_reload_seconds=_float(env, PREFIX + "PRICES_RELOAD_SECONDS", 2.0, minimum=0.0),
            default_tags=env.get(PREFIX + "DEFAULT_TAGS", ""),
            required_tags=_names(env.get(PREFIX + "REQUIRED_TAGS"), ("team", "feature")),
            max_tag_values=int(_float(env, PREFIX + "MAX_TAG_VALUES", 100, minimum=1)),
            endpoints=env.get(PREFIX + "ENDPOINTS", ""),
            estimate_stream_usage=_bool(env, PREFIX + "ESTIMATE_STREAM_USAGE", False),
            semconv_metrics=_bool(env, PREFIX + "SEMCONV_METRICS", True),
        )


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _names(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return default
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false")
