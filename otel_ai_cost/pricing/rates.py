"""Resolved prices of one model and the arithmetic that applies them to a `Usage`.

Catalog lookups (name matching, Decimal data) are slow; they happen once per (provider, model,
tier) and end in these small float records, which the hot path multiplies out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from otel_ai_cost.pricing.cost import CostBreakdown
from otel_ai_cost.usage import Usage

PER_MILLION = 1_000_000.0


@dataclass(slots=True, frozen=True)
class TokenRates:
    """USD per 1M tokens. A missing cache or modality rate falls back to the plain rate."""

    input: float
    output: float
    cache_read: float | None = None
    cache_read_audio: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    input_audio: float | None = None
    input_image: float | None = None
    input_video: float | None = None
    output_audio: float | None = None
    output_image: float | None = None
    output_video: float | None = None
    per_request: float = 0.0
    """USD per request, for providers that add a request fee."""
    per_web_search: float | None = None
    """USD per web search; None when the catalog has no price for them."""
    per_file_search: float | None = None
    """USD per file search call; None when the catalog has no price for them."""

    def scaled(self, factor: float) -> TokenRates:
        def scale(value: float | None) -> float | None:
            return None if value is None else value * factor

        return TokenRates(
            input=self.input * factor,
            output=self.output * factor,
            cache_read=scale(self.cache_read),
            cache_read_audio=scale(self.cache_read_audio),
            cache_write=scale(self.cache_write),
            cache_write_1h=scale(self.cache_write_1h),
            input_audio=scale(self.input_audio),
            input_image=scale(self.input_image),
            input_video=scale(self.input_video),
            output_audio=scale(self.output_audio),
            output_image=scale(self.output_image),
            output_video=scale(self.output_video),
            per_request=self.per_request * factor,
            per_web_search=scale(self.per_web_search),
            per_file_search=scale(self.per_file_search),
        )


@dataclass(slots=True, frozen=True)
class TieredTokenRates:
    """Rates that change with the request's input size (long-context tiers).

    Crossing a threshold prices the whole request at that tier, as Anthropic and Google bill.
    """

    base: TokenRates
    tiers: tuple[tuple[int, TokenRates], ...] = ()
    """(threshold, rates) ascending; a tier applies when input tokens exceed its threshold."""

    def for_input(self, input_tokens: int) -> TokenRates:
        rates = self.base
        for threshold, tier_rates in self.tiers:
            if input_tokens > threshold:
                rates = tier_rates
            else:
                break
        return rates

    def scaled(self, factor: float) -> TieredTokenRates:
        return TieredTokenRates(
            self.base.scaled(factor), tuple((start, rates.scaled(factor)) for start, rates in self.tiers)
        )


@dataclass(slots=True, frozen=True)
class ImageRate:
    """USD for one generated image, by one of the ways image APIs bill.

    Exactly one of the three is set. `per_step` and `per_megapixel` need the request's steps or
    size; without them the image cannot be priced.
    """

    per_image: float | None = None
    per_step: float | None = None
    per_megapixel: float | None = None
    first_megapixel: float | None = None
    """With `per_megapixel`: a different price for the first megapixel (FLUX.2 bills so)."""

    def cost(self, count: int, megapixels: float | None, steps: int | None) -> float | None:
        if self.per_image is not None:
            return count * self.per_image
        if self.per_step is not None:
            return None if steps is None else count * steps * self.per_step
        if self.per_megapixel is not None and megapixels is not None:
            first = self.first_megapixel if self.first_megapixel is not None else self.per_megapixel
            billed = max(1.0, -(-megapixels // 1))  # whole megapixels, rounded up, at least one
            return count * (first + (billed - 1) * self.per_megapixel)
        return None


@dataclass(slots=True, frozen=True)
class ModelPrices:
    """Everything needed to price one model, as resolved from a catalog."""

    model: str
    """The catalog's id for the model."""
    source: str
    tokens: TieredTokenRates | None = None
    images: dict[tuple[str, str], ImageRate] = field(default_factory=dict)
    """(size, quality) -> rate; "*" matches any size or quality."""

    def with_tokens(self, tokens: TieredTokenRates | None) -> ModelPrices:
        return replace(self, tokens=tokens)

    def image_rate(self, size: str | None, quality: str | None) -> ImageRate | None:
        size_key = size.lower() if size else "*"
        quality_key = (quality or "standard").lower()
        images = self.images
        return (
            images.get((size_key, quality_key))
            or images.get((size_key, "*"))
            or images.get(("*", quality_key))
            or images.get(("*", "*"))
        )


def token_cost(rates: TokenRates, usage: Usage) -> CostBreakdown:
    """Effective USD for the tokens of `usage` at `rates`.

    On every request: written for speed (no helper calls unless a rarer case needs them).
    """
    input_rate = rates.input
    input_tokens = usage.input_tokens
    cache_read = usage.cache_read_tokens
    if cache_read > input_tokens:
        cache_read = input_tokens
    cache_write_5m = usage.cache_write_tokens
    cache_write_1h = usage.cache_write_1h_tokens
    uncached = input_tokens - cache_read - cache_write_5m - cache_write_1h
    if uncached < 0:
        uncached = 0

    if usage.input_audio_tokens or usage.input_image_tokens or usage.input_video_tokens:
        input_usd = _by_modality(
            uncached,
            input_rate,
            (usage.input_audio_tokens, rates.input_audio),
            (usage.input_image_tokens, rates.input_image),
            (usage.input_video_tokens, rates.input_video),
        )
    else:
        input_usd = uncached * input_rate

    cache_read_usd = 0.0
    if cache_read:
        cache_read_rate = _or(rates.cache_read, input_rate)
        cached_audio = usage.cache_read_audio_tokens
        if cached_audio:
            cached_audio = min(cached_audio, cache_read)
            audio_rate = _or(rates.cache_read_audio, cache_read_rate)
            cache_read_usd = (cache_read - cached_audio) * cache_read_rate + cached_audio * audio_rate
        else:
            cache_read_usd = cache_read * cache_read_rate
    cache_write_usd = 0.0
    if cache_write_5m or cache_write_1h:
        write_rate = _or(rates.cache_write, input_rate)
        cache_write_usd = cache_write_5m * write_rate + cache_write_1h * _or(rates.cache_write_1h, write_rate)

    output_rate = rates.output
    output_tokens = usage.output_tokens
    if usage.output_audio_tokens or usage.output_image_tokens or usage.output_video_tokens:
        output_usd = _by_modality(
            output_tokens,
            output_rate,
            (usage.output_audio_tokens, rates.output_audio),
            (usage.output_image_tokens, rates.output_image),
            (usage.output_video_tokens, rates.output_video),
        )
    else:
        output_usd = output_tokens * output_rate

    tool_calls_usd = 0.0
    if usage.web_search_requests or usage.file_search_requests:
        tool_calls_usd = usage.web_search_requests * (rates.per_web_search or 0.0) + usage.file_search_requests * (
            rates.per_file_search or 0.0
        )
    return CostBreakdown(
        input_usd / PER_MILLION + rates.per_request,
        cache_read_usd / PER_MILLION,
        cache_write_usd / PER_MILLION,
        output_usd / PER_MILLION,
        0.0,
        tool_calls_usd,
    )


def cache_read_savings(rates: TokenRates, usage: Usage) -> float:
    """What the cache hits of `usage` saved against paying the plain input rate for them."""
    cache_read = usage.cache_read_tokens
    if not cache_read or rates.cache_read is None:
        return 0.0
    cache_read = min(cache_read, usage.input_tokens)
    saved = cache_read * (rates.input - rates.cache_read)
    cached_audio = usage.cache_read_audio_tokens
    if cached_audio:
        cached_audio = min(cached_audio, cache_read)
        audio_rate = _or(rates.input_audio, rates.input)
        saved += cached_audio * (
            audio_rate - rates.input - _or(rates.cache_read_audio, rates.cache_read) + rates.cache_read
        )
    return max(saved, 0.0) / PER_MILLION


def _by_modality(tokens: int, text_rate: float, *parts: tuple[int, float | None]) -> float:
    """USD x 1M for `tokens` of which each part (audio, image, video: a count and its rate) is billed
    at its own rate, if any, and the rest at `text_rate`; parts are cut to what is left of the whole."""
    left = tokens
    usd = 0.0
    for count, rate in parts:
        count = min(count, left)
        left -= count
        usd += count * _or(rate, text_rate)
    return usd + left * text_rate


def _or(value: float | None, fallback: float) -> float:
    return fallback if value is None else value
