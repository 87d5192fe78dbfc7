"""The result of pricing one `Usage`."""

from __future__ import annotations

from dataclasses import dataclass


class UnpricedReason:
    """Values of `ai.cost.unpriced_reason`. Unpriced is explicit, never a cost of zero."""

    UNKNOWN_MODEL = "unknown_model"
    UNKNOWN_PROVIDER = "unknown_provider"
    NO_MODEL = "no_model"
    NO_USAGE = "no_usage"
    UNKNOWN_IMAGE_SIZE = "unknown_image_size"
    UNSUPPORTED_UNIT = "unsupported_unit"
    """The catalog prices the model in units not counted here (audio hours, characters, pages)."""
    PRICING_ERROR = "pricing_error"


class Commitment:
    """Values of `ai.cost.commitment`: how the capacity that served the request was bought."""

    ON_DEMAND = "on_demand"
    """Pay-as-you-go at the standard tier."""
    PROVISIONED = "provisioned"
    """Reserved capacity paid for up front (Azure PTU, Bedrock provisioned throughput)."""
    BATCH = "batch"
    FLEX = "flex"
    PRIORITY = "priority"


class PriceSource:
    """Values of `ai.cost.price_source`."""

    GENAI_PRICES = "genai-prices"
    IMAGE_TABLE = "otel-ai-cost-images"
    OVERRIDES = "overrides"
    PROVIDER = "provider"


@dataclass(slots=True)
class CostBreakdown:
    """Effective USD per component; the parts add up to `Cost.total_usd`."""

    input_usd: float = 0.0
    """Uncached input tokens (all modalities)."""
    cached_input_usd: float = 0.0
    cache_write_usd: float = 0.0
    output_usd: float = 0.0
    """Output tokens, reasoning included."""
    images_usd: float = 0.0
    """Images priced per image, step or megapixel (not image tokens)."""
    tool_calls_usd: float = 0.0
    """Server-side tool calls priced per call: web searches, file searches."""

    def total(self) -> float:
        return (
            self.input_usd
            + self.cached_input_usd
            + self.cache_write_usd
            + self.output_usd
            + self.images_usd
            + self.tool_calls_usd
        )

    def scaled(self, factor: float) -> CostBreakdown:
        return CostBreakdown(
            self.input_usd * factor,
            self.cached_input_usd * factor,
            self.cache_write_usd * factor,
            self.output_usd * factor,
            self.images_usd * factor,
            self.tool_calls_usd * factor,
        )


@dataclass(slots=True)
class Cost:
    """USD cost of one request, or an explicit reason why it has none.

    - `list_usd`: at published prices for the way the request was processed (cache hits, batch,
      service tier), before negotiated discounts and commitments.
    - `total_usd`: the effective cost after discounts and commitments (provisioned deployments
      cost 0 per request); what the request adds to the bill.
    - `savings_usd`: what prompt caching and batch processing saved against the same request at
      the standard list price with no cache hit. Never negative: a cache write's premium is
      part of the cost, not a negative saving.
    """

    priced: bool
    total_usd: float = 0.0
    list_usd: float = 0.0
    savings_usd: float = 0.0
    breakdown: CostBreakdown | None = None
    unpriced_reason: str | None = None
    estimated: bool = False
    price_source: str | None = None
    model: str | None = None
    """The catalog model the price came from, e.g. "gpt-4o-mini" for "gpt-4o-mini-2024-07-18"."""
    commitment: str = Commitment.ON_DEMAND
    """How the request was bought (`Commitment`); `list_usd` is what it would cost on demand at its tier."""

    @staticmethod
    def unpriced(reason: str, model: str | None = None) -> Cost:
        return Cost(priced=False, unpriced_reason=reason, model=model)
