"""Settings from `OTEL_AI_COST_*` environment variables."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

PREFIX = "OTEL_AI_COST_"
T = TypeVar("T")


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
    def from_env(cls, environ: Mapping[str, str] | None = None, errors: list[ConfigError] | None = None) -> Settings:
        """The settings the variables give. A bad value raises `ConfigError`; given `errors`, it is
        added there instead and that one setting keeps its default (the others are still read)."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def read(parse: Callable[[], T], default: T) -> T:
            try:
                return parse()
            except ConfigError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                return default

        return cls(
            prices_file=env.get(PREFIX + "PRICES_FILE") or None,
            prices_reload_seconds=read(
                lambda: _float(env, PREFIX + "PRICES_RELOAD_SECONDS", defaults.prices_reload_seconds, minimum=0.0),
                defaults.prices_reload_seconds,
            ),
            default_tags=env.get(PREFIX + "DEFAULT_TAGS", ""),
            required_tags=_names(env.get(PREFIX + "REQUIRED_TAGS"), defaults.required_tags),
            max_tag_values=read(
                lambda: _int(env, PREFIX + "MAX_TAG_VALUES", defaults.max_tag_values, minimum=1),
                defaults.max_tag_values,
            ),
            endpoints=env.get(PREFIX + "ENDPOINTS", ""),
            estimate_stream_usage=read(
                lambda: _bool(env, PREFIX + "ESTIMATE_STREAM_USAGE", defaults.estimate_stream_usage),
                defaults.estimate_stream_usage,
            ),
            semconv_metrics=read(
                lambda: _bool(env, PREFIX + "SEMCONV_METRICS", defaults.semconv_metrics), defaults.semconv_metrics
            ),
        )


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r} is not a finite number")
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    value = _float(env, name, float(default), minimum=minimum)
    if not value.is_integer():
        raise ConfigError(f"{name}={env.get(name)!r} is not a whole number")
    return int(value)


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
