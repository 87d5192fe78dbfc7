"""Usage -> Cost: the catalogs, the user's overrides and the billing modifiers in one place.

Resolving a (provider, model) against the catalogs is slow (name matching), so each resolution,
misses included, is cached until the overrides file changes. After that, pricing a request is
a dictionary lookup and some float arithmetic.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from otel_ai_cost.pricing import names
from otel_ai_cost.pricing.cost import Commitment, Cost, CostBreakdown, PriceSource, UnpricedReason
from otel_ai_cost.pricing.image_catalog import ImageCatalog
from otel_ai_cost.pricing.overrides import Overrides, OverridesWatcher
from otel_ai_cost.pricing.rates import ModelPrices, TieredTokenRates, cache_read_savings, token_cost
from otel_ai_cost.pricing.token_catalog import TokenCatalog, TokenPriceMatch
from otel_ai_cost.usage import ServiceTier, Usage

logger = logging.getLogger(__name__)

# Providers that bill batch jobs at half the standard price, applied when the catalog has no
# explicit batch price for a model.
BATCH_DISCOUNT = {
    "openai": 0.5,
    "azure.ai.openai": 0.5,
    "anthropic": 0.5,
    "gcp.gemini": 0.5,
    "gcp.vertex_ai": 0.5,
    "aws.bedrock": 0.5,
}
_AUDIO_PRICED_APART = frozenset({"openai", "azure.ai.openai"})
"""Providers that bill audio tokens at their own rates on every audio model (Google bills most
Gemini models one price for all input): a missing audio rate there makes the price an estimate."""


RESOLVED_KEPT = 4096
"""(provider, model, deployment) resolutions kept; more (model names a server makes up per request)
start over, so that memory stays bounded."""
MISSES_LOGGED = 100
"""Models without a price logged by name; after that, one line says the rest are not."""

_COMMITMENT_OF_TIER = {
    ServiceTier.BATCH: Commitment.BATCH,
    ServiceTier.FLEX: Commitment.FLEX,
    ServiceTier.PRIORITY: Commitment.PRIORITY,
    ServiceTier.FAST: Commitment.PRIORITY,  # paid per request for faster processing, as OpenAI's renamed priority
}


def _commitment_of(usage: Usage, provisioned: bool) -> str:
    if provisioned:
        return Commitment.PROVISIONED
    return _COMMITMENT_OF_TIER.get(usage.service_tier, Commitment.ON_DEMAND)


@dataclass(slots=True)
class _Resolved:
    """What the catalogs and overrides say about one (provider, model, deployment)."""

    model: str | None
    tokens: TokenPriceMatch | ModelPrices | None
    images: ModelPrices | None
    discount_factor: float
    provisioned: bool
    miss_reason: str

    def token_rates(self, tier: str, when: datetime | None) -> tuple[TieredTokenRates, bool, str]:
        tokens = self.tokens
        if isinstance(tokens, TokenPriceMatch):
            rates, tier_found = tokens.rates(tier, when)
            return rates, tier_found, PriceSource.GENAI_PRICES
        assert tokens is not None and tokens.tokens is not None
        return tokens.tokens, tier == ServiceTier.DEFAULT, tokens.source


class PriceEngine:
    """Prices `Usage` records. Never raises from `price`: failures come back as unpriced."""

    def __init__(
        self,
        prices_file: str | os.PathLike[str] | None = None,
        *,
        reload_interval: float = 2.0,
        token_catalog: TokenCatalog | None = None,
        image_catalog: ImageCatalog | None = None,
    ) -> None:
        self.overrides = OverridesWatcher(prices_file, reload_interval)
        self.tokens = token_catalog or TokenCatalog()
        self.images = image_catalog or ImageCatalog()
        self._cache: dict[tuple[Overrides, str, str, str | None], _Resolved] = {}
        self._generation = self.overrides.generation
        self._failed_once = False
        self._misses_logged = 0

    def price(self, usage: Usage) -> Cost:
        try:
            return self._price(usage)
        except Exception:
            if not self._failed_once:
                self._failed_once = True
                logger.exception("otel-ai-cost: could not price %s %s", usage.provider, usage.model)
            return Cost.unpriced(UnpricedReason.PRICING_ERROR, usage.model)

    def resolve(self, provider: str, model: str, deployment: str | None = None) -> _Resolved:
        overrides = self.overrides.current()
        if self.overrides.generation != self._generation:
            self._cache.clear()
            self._generation = self.overrides.generation
        # The overrides read are part of the key: a lookup that a reload overtakes (in another
        # thread) stores its result under the old ones, where nobody looks after that reload.
        key = (overrides, provider, model, deployment)
        resolved = self._cache.get(key)
        if resolved is None:
            resolved = self._resolve(overrides, provider, model, deployment)
            if len(self._cache) >= RESOLVED_KEPT:
                self._cache.clear()
            self._cache[key] = resolved
            if resolved.tokens is None and resolved.images is None:
                self._log_miss(provider, model, resolved.miss_reason)
        return resolved

    def _log_miss(self, provider: str, model: str, reason: str) -> None:
        self._misses_logged += 1
        if self._misses_logged <= MISSES_LOGGED:
            logger.warning(
                "otel-ai-cost: no price for %s model %r (%s); its requests are recorded as unpriced",
                provider,
                model[:200],
                reason,
            )
        if self._misses_logged == MISSES_LOGGED:
            logger.warning(
                "otel-ai-cost: %d models without a price logged; the next are not (ai.cost.unpriced counts them)",
                MISSES_LOGGED,
            )

    def _resolve(self, overrides: Overrides, provider: str, model: str, deployment: str | None) -> _Resolved:
        target = None
        if deployment:
            target = overrides.deployment(provider, deployment)
        if target is None and model:
            target = overrides.deployment(provider, model)
        if target is not None:
            model = target.model

        own = overrides.model(provider, model)
        tokens: TokenPriceMatch | ModelPrices | None = own if own is not None and own.tokens is not None else None
        images = own if own is not None and own.images else None
        miss_reason = UnpricedReason.UNKNOWN_MODEL
        if tokens is None:
            found = self.tokens.lookup(provider, model)
            if isinstance(found, str):
                miss_reason = found
            else:
                tokens = found
        if images is None:
            images = self.images.lookup(provider, model)
            if images is not None:
                miss_reason = UnpricedReason.UNKNOWN_MODEL

        catalog_model = own.model if own is not None else None
        if catalog_model is None and isinstance(tokens, TokenPriceMatch):
            catalog_model = tokens.model_id
        if catalog_model is None and images is not None:
            catalog_model = images.model
        return _Resolved(
            model=catalog_model,
            tokens=tokens,
            images=images,
            discount_factor=overrides.discount_factor(
                provider, *names.candidates(model), *([catalog_model] if catalog_model else [])
            ),
            provisioned=target.provisioned if target is not None else False,
            miss_reason=miss_reason,
        )

    def _price(self, usage: Usage) -> Cost:
        if usage.provider_reported_cost is not None:
            reported = float(usage.provider_reported_cost)
            return Cost(
                priced=True,
                total_usd=reported,
                list_usd=reported,
                price_source=PriceSource.PROVIDER,
                model=usage.model,
                commitment=_commitment_of(usage, provisioned=False),
            )

        model = usage.model or usage.deployment
        if not model:
            return Cost.unpriced(UnpricedReason.NO_MODEL)
        resolved = self.resolve(usage.provider, model, usage.deployment)

        if usage.has_tokens:
            if resolved.tokens is None:
                return Cost.unpriced(resolved.miss_reason, model)
            listed = _list_price_of_tokens(resolved, usage)
        elif usage.image_count > 0:
            if resolved.images is None:
                return Cost.unpriced(resolved.miss_reason, model)
            images_usd = _list_price_of_images(resolved.images, usage)
            if images_usd is None:
                return Cost.unpriced(UnpricedReason.UNKNOWN_IMAGE_SIZE, resolved.model or model)
            listed = _ListPrice(CostBreakdown(images_usd=images_usd), 0.0, usage.estimated, resolved.images.source)
        else:
            return Cost.unpriced(UnpricedReason.NO_USAGE, resolved.model or model)

        breakdown = listed.breakdown
        list_usd = total_usd = breakdown.total()
        provisioned = resolved.provisioned or usage.provisioned
        factor = 0.0 if provisioned else resolved.discount_factor
        if factor != 1.0:
            breakdown = breakdown.scaled(factor)
            total_usd = breakdown.total()
        return Cost(
            priced=True,
            total_usd=total_usd,
            list_usd=list_usd,
            savings_usd=listed.savings,
            breakdown=breakdown,
            estimated=listed.estimated,
            price_source=listed.source,
            model=resolved.model,
            commitment=_commitment_of(usage, provisioned),
        )


class _ListPrice(NamedTuple):
    breakdown: CostBreakdown
    savings: float
    estimated: bool
    source: str


def _list_price_of_tokens(resolved: _Resolved, usage: Usage) -> _ListPrice:
    """Tokens at list price for the request's tier, and what caching and batch saved."""
    tier = usage.service_tier
    estimated = usage.estimated
    rates, tier_found, source = resolved.token_rates(tier, usage.request_time)
    tier_rates = rates.for_input(usage.input_tokens)
    breakdown = token_cost(tier_rates, usage)
    if (usage.web_search_requests and tier_rates.per_web_search is None) or (
        usage.file_search_requests and tier_rates.per_file_search is None
    ):
        estimated = True  # the tool calls are billed, at a price the catalog lacks
    if (
        (usage.input_audio_tokens and tier_rates.input_audio is None)
        or (usage.output_audio_tokens and tier_rates.output_audio is None)
    ) and usage.provider in _AUDIO_PRICED_APART:
        estimated = True  # audio at the text rate, where the provider lists it at several times that
    standard_rates = tier_rates
    if tier != ServiceTier.DEFAULT:
        standard_rates = resolved.token_rates(ServiceTier.DEFAULT, usage.request_time)[0].for_input(usage.input_tokens)
    # Savings: cache hits at the standard price, plus the batch discount on what was paid.
    savings = cache_read_savings(standard_rates, usage)
    if tier == ServiceTier.BATCH:
        if tier_found:
            savings += max(token_cost(standard_rates, usage).total() - breakdown.total(), 0.0)
        elif (factor := BATCH_DISCOUNT.get(usage.provider)) is not None:
            standard_usd = breakdown.total()
            tool_calls_usd = breakdown.tool_calls_usd
            breakdown = breakdown.scaled(factor)
            breakdown.tool_calls_usd = tool_calls_usd  # per call, whatever the processing
            savings += standard_usd - breakdown.total()
        else:
            estimated = True
    elif tier != ServiceTier.DEFAULT and not tier_found:
        estimated = True
    return _ListPrice(breakdown, savings, estimated, source)


def _list_price_of_images(prices: ModelPrices, usage: Usage) -> float | None:
    """USD for the request's images, or None when the table has no price for its size/steps."""
    rate = prices.image_rate(usage.image_size, usage.image_quality)
    if rate is None:
        return None
    return rate.cost(usage.image_count, megapixels(usage.image_size), usage.image_steps)


PIXELS_PER_MEGAPIXEL = 1_048_576  # image APIs (Black Forest Labs) count a megapixel as 1024 x 1024


def megapixels(size: str | None) -> float | None:
    """ "1024x1536" -> 1.5; None when the size is missing or not WIDTHxHEIGHT."""
    if not size:
        return None
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    return int(width) * int(height) / PIXELS_PER_MEGAPIXEL
