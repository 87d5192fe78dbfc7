"""Usage -> Cost. Knows nothing of OpenTelemetry or HTTP."""

from otel_ai_cost.pricing.cost import Cost, CostBreakdown, PriceSource, UnpricedReason
from otel_ai_cost.pricing.engine import PriceEngine
from otel_ai_cost.pricing.overrides import OverridesError, parse_overrides

__all__ = [
    "Cost",
    "CostBreakdown",
    "OverridesError",
    "PriceEngine",
    "PriceSource",
    "UnpricedReason",
    "parse_overrides",
]
