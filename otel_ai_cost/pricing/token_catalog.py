"""Token prices from the genai-prices data bundled with the installed package.

genai-prices does the model-name matching and holds historic prices, service-tier and batch
variants and long-context tiers. This module turns its Decimal records into `TieredTokenRates`
once per model and price period, so pricing a request is float arithmetic. It never fetches
prices over the network: the bundled snapshot is what is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from otel_ai_cost.pricing import names
from otel_ai_cost.pricing.cost import PriceSource, UnpricedReason
from otel_ai_cost.pricing.rates import TieredTokenRates, TokenRates
from otel_ai_cost.usage import ServiceTier

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice, PriceVariant, Provider

# genai-prices price key -> TokenRates field (USD per 1M tokens).
_RATE_FIELDS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_audio_read_mtok": "cache_read_audio",
    "cache_write_mtok": "cache_write",
    "cache_write_1h_mtok": "cache_write_1h",
    "input_audio_mtok": "input_audio",
    "input_image_mtok": "input_image",
    "input_video_mtok": "input_video",
    "output_audio_mtok": "output_audio",
    "output_image_mtok": "output_image",
    "output_video_mtok": "output_video",
}

# The request context genai-prices selects price variants by.
_TIER_CONTEXT: dict[str, dict[str, str]] = {
    ServiceTier.BATCH: {"processing": "batch"},
    ServiceTier.FLEX: {"service_tier": "flex"},
    ServiceTier.PRIORITY: {"service_tier": "priority"},
    ServiceTier.FAST: {"speed": "fast"},
}


@dataclass(slots=True)
class TokenPriceMatch:
    """A model found in the catalog, able to give its rates for any request time and tier."""

    provider_id: str
    model_id: str
    info: ModelInfo
    _variants: dict[str, tuple[PriceVariant, ...]] = field(default_factory=dict)
    """By tier: the catalog's price variants for that tier."""
    _static: dict[str, tuple[TieredTokenRates, bool]] = field(default_factory=dict)
    """Rates by tier where they do not depend on the request time (most models and tiers)."""
    _memo: dict[tuple[int, str, tuple[bool, ...]], tuple[TieredTokenRates, bool]] = field(default_factory=dict)
    """Rates by (standard price in force, tier, which of the tier's variants are in force)."""

    def rates(self, tier: str, when: datetime | None) -> tuple[TieredTokenRates, bool]:
        """Rates for `tier` at `when`, and whether the catalog has a price for that tier then.

        When it has none, the standard rates are returned with False, and the caller decides
        (e.g. applies the published batch discount). A variant that starts on a date (or holds at
        some hours) only counts for requests made while it is in force.
        """
        static = self._static.get(tier)
        if static is not None:
            return static
        variants = self._variants.get(tier)
        if variants is None:
            context = _TIER_CONTEXT.get(tier)
            variants = self._variants[tier] = tuple(
                v for v in self.info.price_variants or () if context is not None and v.when == context
            )
        at = when or datetime.now(tz=UTC)
        standard = self.info.get_prices(at)
        in_force = tuple(v.constraint is None or v.constraint.active(at) for v in variants)
        key = (id(standard), tier, in_force)
        memo = self._memo.get(key)
        if memo is None:
            memo = self._memo[key] = self._resolve(standard, tier, at, any(in_force))
            if not isinstance(self.info.prices, list) and all(v.constraint is None for v in variants):
                self._static[tier] = memo
        return memo

    def _resolve(
        self, standard: ModelPrice, tier: str, at: datetime, variant_in_force: bool
    ) -> tuple[TieredTokenRates, bool]:
        context = _TIER_CONTEXT.get(tier)
        if context is None:
            return _to_rates(standard), True
        if not variant_in_force:
            return _to_rates(standard), False
        return _to_rates(self.info.get_prices(at, context)), True


class TokenCatalog:
    """Looks up (provider, model) in genai-prices; loads its data on first use."""

    source = PriceSource.GENAI_PRICES

    def __init__(self) -> None:
        self._snapshot: Any = None

    def _data(self) -> Any:
        if self._snapshot is None:
            from genai_prices import data_snapshot

            self._snapshot = data_snapshot.get_snapshot()
        return self._snapshot

    def provider(self, provider: str) -> Provider | None:
        from genai_prices.data_snapshot import find_provider_by_id

        provider_id = names.GENAI_PRICES_PROVIDER.get(provider, provider)
        return find_provider_by_id(self._data().providers, provider_id)

    def lookup(self, provider: str, model: str) -> TokenPriceMatch | str:
        """The model's prices, or the `UnpricedReason` why there are none."""
        genai_provider = self.provider(provider)
        if genai_provider is None:
            return UnpricedReason.UNKNOWN_PROVIDER
        all_providers = self._data().providers
        for candidate in names.candidates(model):
            info = genai_provider.find_model(candidate, all_providers=all_providers)
            if info is not None:
                if not _priced_per_token(info):
                    return UnpricedReason.UNSUPPORTED_UNIT  # else every count would be priced at $0
                return TokenPriceMatch(genai_provider.id, info.id, info)
        return UnpricedReason.UNKNOWN_MODEL

    def provider_for_model(self, model: str) -> str | None:
        """The genai-prices id of the provider whose models' names match `model`, if any."""
        try:
            found: Provider = self._data().find_provider(model.lower(), None, None)
        except LookupError:
            return None
        return found.id

    def providers(self) -> list[Provider]:
        return list(self._data().providers)


def _priced_per_token(info: ModelInfo) -> bool:
    """Whether any of the model's prices is per token or per request (whisper-1 is per audio hour,
    tts-1 per character, an OCR model per page)."""
    prices = info.prices if isinstance(info.prices, list) else [info.prices]
    for price in prices:
        price = getattr(price, "prices", price)  # a conditional price holds its ModelPrice
        if any(getattr(price, key, None) is not None for key in (*_RATE_FIELDS, "requests_kcount")):
            return True
    return False


def _to_rates(price: ModelPrice) -> TieredTokenRates:
    """genai-prices' Decimal prices (some tiered by input size) -> float rates per tier."""
    values: dict[str, Any] = {}
    for key, rate_field in _RATE_FIELDS.items():
        value = getattr(price, key, None)
        if value is not None:
            values[rate_field] = value
    per_thousand_requests = getattr(price, "requests_kcount", None)
    per_thousand_searches = getattr(price, "web_searches_kcount", None)
    per_thousand_file_searches = getattr(price, "storage_searches_kcount", None)

    thresholds = sorted({t.start for v in values.values() if not isinstance(v, Decimal) for t in v.tiers})

    def at(input_tokens: int) -> TokenRates:
        floats = {name: float(_price_at(value, input_tokens)) for name, value in values.items()}
        floats.setdefault("input", 0.0)
        floats.setdefault("output", 0.0)
        per_request = float(per_thousand_requests) / 1000 if isinstance(per_thousand_requests, Decimal) else 0.0
        return TokenRates(
            per_request=per_request,
            per_web_search=_per_call(per_thousand_searches),
            per_file_search=_per_call(per_thousand_file_searches),
            **floats,
        )

    return TieredTokenRates(at(0), tuple((start, at(start + 1)) for start in thresholds))


def _per_call(per_thousand: Any) -> float | None:
    return float(per_thousand) / 1000 if isinstance(per_thousand, Decimal) else None


def _price_at(value: Any, input_tokens: int) -> Decimal:
    if isinstance(value, Decimal):
        return value
    price: Decimal = value.base
    for tier in value.tiers:
        if input_tokens > tier.start:
            price = tier.price
    return price
