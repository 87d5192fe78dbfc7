"""otel-ai-cost: a price tag on every LLM and image-generation API call, inside OpenTelemetry.

Public API:
- `Usage`: the normalized record of one billable request.
- `price(usage)`: its `Cost` in USD (or an explicit unpriced reason), with the process-wide
  engine configured from `OTEL_AI_COST_*` environment variables.
- `PriceEngine`: an engine of your own (e.g. another overrides file).
- `tags(...)`: who pays for the AI requests of a block or function.
- `budget(usd=..., tokens=..., requests=...)`: a spend limit for a block or function; a request
  sent once it is spent raises `BudgetExceeded` (or, with `on_exceed="warn"`, logs).
- `workflow(name)`: a span and cost total for one run of a multi-step job, with its outcome.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from otel_ai_cost.budgets import BudgetExceeded, budget
from otel_ai_cost.pricing import Cost, CostBreakdown, OverridesError, PriceEngine, UnpricedReason
from otel_ai_cost.tags import current_tags, tags  # binds `tags` to the function, not the module
from otel_ai_cost.usage import Operation, ServiceTier, Usage
from otel_ai_cost.workflows import workflow

if TYPE_CHECKING:
    from otel_ai_cost.config import Settings

__all__ = [
    "AICostInstrumentor",
    "BudgetExceeded",
    "Cost",
    "CostBreakdown",
    "Operation",
    "OverridesError",
    "PriceEngine",
    "ServiceTier",
    "UnpricedReason",
    "Usage",
    "budget",
    "current_tags",
    "default_engine",
    "price",
    "tags",
    "workflow",
]

_engine: PriceEngine | None = None
_engine_lock = threading.Lock()


def default_engine() -> PriceEngine:
    """The process-wide engine, created on first use from `OTEL_AI_COST_*` settings."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                settings = _settings_from_env()
                _engine = PriceEngine(settings.prices_file, reload_interval=settings.prices_reload_seconds)
    return _engine


_reported_settings: set[str] = set()


def _settings_from_env() -> Settings:
    """The `OTEL_AI_COST_*` settings; a bad value is logged once, not by each reader (the
    instrumentor, then the default engine) and not again on each `instrument()`."""
    from otel_ai_cost.config import ConfigError, Settings

    errors: list[ConfigError] = []
    settings = Settings.from_env(errors=errors)
    for error in errors:
        _report_setting(f"{error}; using its default")
    return settings


def _report_setting(problem: str) -> None:
    """Log a problem with a setting, once per process."""
    if problem not in _reported_settings:
        _reported_settings.add(problem)
        logging.getLogger(__name__).error("otel-ai-cost: %s", problem)


def price(usage: Usage) -> Cost:
    """USD cost of one request; never raises (failures come back as unpriced)."""
    return default_engine().price(usage)


def __getattr__(name: str) -> object:
    # Loaded on first use: pricing alone does not need OpenTelemetry's instrumentation machinery.
    if name == "AICostInstrumentor":
        from otel_ai_cost.instrumentor import AICostInstrumentor

        return AICostInstrumentor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
