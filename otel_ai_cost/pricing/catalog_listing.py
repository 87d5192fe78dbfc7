"""The price catalog as rows for people (`otel-ai-cost prices list`), and provider guessing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from otel_ai_cost.pricing import names
from otel_ai_cost.pricing.cost import PriceSource
from otel_ai_cost.pricing.engine import PriceEngine
from otel_ai_cost.pricing.rates import ImageRate, ModelPrices
from otel_ai_cost.pricing.token_catalog import TokenPriceMatch

# genai-prices provider id -> the gen_ai.provider.name we show and accept.
_PROVIDER_NAME = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "google": "gcp.gemini",
    "aws": "aws.bedrock",
    "mistral": "mistral_ai",
    "x-ai": "x_ai",
}


def _catalog_id(provider: str) -> str:
    return names.GENAI_PRICES_PROVIDER.get(provider, provider)


def provider_name(genai_prices_id: str) -> str:
    return _PROVIDER_NAME.get(genai_prices_id, genai_prices_id)


@dataclass(slots=True)
class PriceRow:
    provider: str
    model: str
    input: float | None
    cache_read: float | None
    output: float | None
    cache_write: float | None
    images: str | None
    source: str


def catalog_rows(engine: PriceEngine, *, provider: str | None = None, search: str | None = None) -> list[PriceRow]:
    """Every priced model (overrides, image table, genai-prices), filtered, sorted by provider and model."""
    wanted_provider = provider.lower() if provider else None
    needle = search.lower() if search else None

    def keep(row_provider: str, model: str, aliases: tuple[str, ...] = ()) -> bool:
        if wanted_provider and _catalog_id(wanted_provider) != _catalog_id(row_provider):
            return False
        return needle is None or any(needle in name.lower() for name in (model, *aliases))

    rows: list[PriceRow] = []
    for own in engine.overrides.current().entries.models:
        if keep(own.provider, own.model, own.aliases):
            rows.append(_row(own.provider, own.model_prices()))
    for table_entry in engine.images.entries():
        if keep(table_entry.provider, table_entry.model, table_entry.aliases):
            prices = engine.images.lookup(table_entry.provider, table_entry.model)
            if prices is not None:
                rows.append(_row(table_entry.provider, prices))
    now = datetime.now(tz=UTC)
    for genai_provider in engine.tokens.providers():
        name = provider_name(genai_provider.id)
        for info in genai_provider.models:
            if keep(name, info.id):
                rates, _ = TokenPriceMatch(genai_provider.id, info.id, info).rates("default", now)
                base = rates.base
                rows.append(
                    PriceRow(
                        name,
                        info.id,
                        base.input,
                        base.cache_read,
                        base.output,
                        base.cache_write,
                        None,
                        PriceSource.GENAI_PRICES + (" (+long-context tiers)" if rates.tiers else ""),
                    )
                )
    rows.sort(key=lambda row: (row.provider, row.model))
    return rows


def _row(provider: str, prices: ModelPrices) -> PriceRow:
    base = prices.tokens.base if prices.tokens else None
    images = "; ".join(f"{size}/{quality} {_describe(rate)}" for (size, quality), rate in sorted(prices.images.items()))
    return PriceRow(
        provider,
        prices.model,
        base.input if base else None,
        base.cache_read if base else None,
        base.output if base else None,
        base.cache_write if base else None,
        images or None,
        prices.source,
    )


def _describe(rate: ImageRate) -> str:
    if rate.per_image is not None:
        return f"${rate.per_image:g}/image"
    if rate.per_step is not None:
        return f"${rate.per_step:g}/step"
    first = f" (first ${rate.first_megapixel:g})" if rate.first_megapixel is not None else ""
    return f"${rate.per_megapixel:g}/MP{first}"


def guess_provider(engine: PriceEngine, model: str) -> str | None:
    """The provider that most likely serves `model`, for a CLI user who did not say."""
    for own in engine.overrides.current().entries.models:
        if model.lower() in (own.model.lower(), *(a.lower() for a in own.aliases)):
            return own.provider
    normalized = set(names.candidates(model))
    for table_entry in engine.images.entries():
        if normalized & {table_entry.model.lower(), *(a.lower() for a in table_entry.aliases)}:
            return table_entry.provider
    by_pattern = None
    for candidate in names.candidates(model):
        found = engine.tokens.provider_for_model(candidate)
        if found is not None:
            by_pattern = provider_name(found)
            if not isinstance(engine.tokens.lookup(by_pattern, model), str):
                return by_pattern
            break  # the name looks like the maker's, but it prices no such model (a Bedrock id)
    if _BEDROCK_ID.match(model) and not isinstance(engine.tokens.lookup("aws.bedrock", model), str):
        return "aws.bedrock"
    # genai-prices' name patterns miss some models it lists (text-embedding-3-small): look for the id.
    listed_by = {
        genai_provider.id
        for genai_provider in engine.tokens.providers()
        for info in genai_provider.models
        if info.id.lower() in normalized
    }
    for maker in _MODEL_MAKERS:
        if maker in listed_by:
            return provider_name(maker)
    if len(listed_by) == 1:
        return provider_name(listed_by.pop())
    return by_pattern


_BEDROCK_ID = re.compile(r"^(?:[a-z]{2,6}\.)?[a-z0-9-]+\.[a-z0-9.-]+:\d+$")
"""A Bedrock model id: vendor, name, version (`anthropic.claude-3-5-haiku-20241022-v1:0`), maybe behind a
cross-region prefix (`us.`)."""

_MODEL_MAKERS = ("openai", "anthropic", "google", "mistral", "x-ai", "deepseek", "cohere", "meta")
"""Of several providers listing a model, the one that makes it (Azure, Bedrock, resellers also list it)."""


def known_provider_names(engine: PriceEngine) -> set[str]:
    """Provider names the CLI accepts: built-in routes, the catalogs' providers, the overrides file's."""
    from otel_ai_cost.providers.routing import builtin_provider_names

    known = set(builtin_provider_names()) | set(names.GENAI_PRICES_PROVIDER)
    for genai_provider in engine.tokens.providers():
        known |= {genai_provider.id, provider_name(genai_provider.id)}
    known |= {entry.provider for entry in engine.images.entries()}
    known |= {own.provider for own in engine.overrides.current().entries.models}
    return known
