"""Usage -> Cost. Knows nothing of OpenTelemetry or HTTP."""

from otel_ai_cost.pricing.cost import Commitment, Cost, CostBreakdown, PriceSource, UnpricedReason
from otel_ai_cost.pricing.engine import PriceEngine
from otel_ai_cost.pricing.overrides import OverridesError, parse_overrides

__all__ = [
    "Commitment",
    "Cost",
    "CostBreakdown",
    "OverridesError",
    "PriceEngine",
    "PriceSource",
    "UnpricedReason",
    "parse_overrides",
]
