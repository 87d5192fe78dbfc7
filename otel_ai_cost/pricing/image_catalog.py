"""Per-image prices of image-generation models that genai-prices lacks, from the bundled table.

The table (`data/image_prices.json`, an `ImageTable`) names, for each model, the public price page
it was taken from and the date the prices took effect. It is read and validated on the first
lookup, not at import.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from otel_ai_cost.pricing import names
from otel_ai_cost.pricing.cost import PriceSource
from otel_ai_cost.pricing.rates import ModelPrices

if TYPE_CHECKING:  # the schema (pydantic) is imported on the first lookup, with the table
    from otel_ai_cost.pricing.schema import ImageModelEntry, ImageTable

_TABLE_PACKAGE = "otel_ai_cost.pricing"
_TABLE_FILE = "image_prices.json"

PROVIDER_FALLBACK: dict[str, tuple[str, ...]] = {
    "azure.ai.openai": ("openai",),
}
"""Providers that sell another provider's image models at its list prices, when not listed themselves."""


def load_image_table(path: Path | None = None) -> ImageTable:
    """The bundled image price table, or the one at `path`; raises pydantic's ValidationError if invalid."""
    from otel_ai_cost.pricing.schema import ImageTable

    if path is None:
        text = (resources.files(_TABLE_PACKAGE) / "data" / _TABLE_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return ImageTable.model_validate_json(text)


class ImageCatalog:
    """Looks up (provider, model) in an image price table; the bundled one by default."""

    source = PriceSource.IMAGE_TABLE

    def __init__(self, table: ImageTable | None = None) -> None:
        self._table = table
        self._index: dict[tuple[str, str], ModelPrices] | None = None

    def _table_data(self) -> ImageTable:
        if self._table is None:
            self._table = load_image_table()
        return self._table

    def _prices(self) -> dict[tuple[str, str], ModelPrices]:
        if self._index is None:
            self._index = _build_index(self._table_data())
        return self._index

    def lookup(self, provider: str, model: str) -> ModelPrices | None:
        """The prices of `model` as `provider` serves it, or None when the table has no such model."""
        index = self._prices()
        for table_provider in (provider, *PROVIDER_FALLBACK.get(provider, ())):
            for candidate in names.candidates(model):
                prices = index.get((table_provider, candidate))
                if prices is not None:
                    return prices
        return None

    def entries(self) -> tuple[ImageModelEntry, ...]:
        """Every model in the table, in table order."""
        return self._table_data().models


def _build_index(table: ImageTable) -> dict[tuple[str, str], ModelPrices]:
    index: dict[tuple[str, str], ModelPrices] = {}
    owner: dict[tuple[str, str], int] = {}
    for position, entry in enumerate(table.models):
        prices = ModelPrices(model=entry.model, source=PriceSource.IMAGE_TABLE, images=entry.image_rates())
        for name in (entry.model, *entry.aliases):
            key = (entry.provider, names.normalize(name))
            first = owner.setdefault(key, position)
            if first != position:
                raise ValueError(
                    f"image price table: {entry.provider} model name {name!r} is used by both "
                    f"models[{first}] ({table.models[first].model}) and models[{position}] ({entry.model})"
                )
            index[key] = prices
    return index
