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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            prices_file=env.get(PREFIX + "PRICES_FILE") or None,
            prices_reload_seconds=_float(env, PREFIX + "PRICES_RELOAD_SECONDS", 2.0, minimum=0.0),
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
