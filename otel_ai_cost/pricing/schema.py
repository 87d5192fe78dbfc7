"""Validated shapes of price data written by people: the bundled image table and overrides files.

Validated once when loaded, then turned into the float records of `rates`.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from otel_ai_cost.pricing.rates import ImageRate, TieredTokenRates, TokenRates


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ImagePriceEntry(_Strict):
    """The price of one image of a given size and quality; exactly one billing unit set."""

    size: str = "*"
    """"WIDTHxHEIGHT" as the API takes it, or "*" for any size (any case: looked up in lower case)."""
    quality: str = "*"
    """As the API names it (standard, hd, low, medium, high, premium, ...), or "*"."""
    per_image: float | None = Field(default=None, ge=0)
    per_step: float | None = Field(default=None, ge=0)
    per_megapixel: float | None = Field(default=None, ge=0)
    first_megapixel: float | None = Field(default=None, ge=0)
    credits: float | None = Field(default=None, ge=0)
    """Provider credits per image; converted with the model's `usd_per_credit`."""

    @field_validator("size")
    @classmethod
    def _lower_case(cls, size: str) -> str:
        return size.lower()

    @model_validator(mode="after")
    def _one_unit(self) -> ImagePriceEntry:
        units = [u for u in ("per_image", "per_step", "per_megapixel", "credits") if getattr(self, u) is not None]
        if len(units) != 1:
            raise ValueError(
                "set exactly one of per_image, per_step, per_megapixel, credits"
                + (f" (got {', '.join(units)})" if units else "")
            )
        if self.first_megapixel is not None and self.per_megapixel is None:
            raise ValueError("first_megapixel needs per_megapixel")
        return self

    def rate(self, usd_per_credit: float | None) -> ImageRate:
        if self.credits is not None:
            if usd_per_credit is None:
                raise ValueError("credits need usd_per_credit on the model")
            return ImageRate(per_image=self.credits * usd_per_credit)
        return ImageRate(
            per_image=self.per_image,
            per_step=self.per_step,
            per_megapixel=self.per_megapixel,
            first_megapixel=self.first_megapixel,
        )


class TokenPriceEntry(_Strict):
    """USD per 1M tokens; `per_request`, `per_web_search` and `per_file_search` in USD per call."""

    input: float = Field(ge=0)
    output: float = Field(default=0.0, ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    cache_write_1h: float | None = Field(default=None, ge=0)
    per_request: float = Field(default=0.0, ge=0)
    per_web_search: float | None = Field(default=None, ge=0)
    per_file_search: float | None = Field(default=None, ge=0)

    def rates(self) -> TieredTokenRates:
        return TieredTokenRates(
            TokenRates(
                input=self.input,
                output=self.output,
                cache_read=self.cache_read,
                cache_write=self.cache_write,
                cache_write_1h=self.cache_write_1h,
                per_request=self.per_request,
                per_web_search=self.per_web_search,
                per_file_search=self.per_file_search,
            )
        )


class ImageModelEntry(_Strict):
    """One image model in the bundled table, with where its prices come from."""

    provider: str
    model: str
    aliases: tuple[str, ...] = ()
    source: str
    """URL of the published price list."""
    effective_date: date
    """Date the prices took effect (or were last checked on the source page)."""
    usd_per_credit: float | None = Field(default=None, gt=0)
    prices: tuple[ImagePriceEntry, ...] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _credits_have_a_rate(self) -> ImageModelEntry:
        if any(p.credits is not None for p in self.prices) and self.usd_per_credit is None:
            raise ValueError("prices in credits need usd_per_credit")
        return self

    def image_rates(self) -> dict[tuple[str, str], ImageRate]:
        return {(p.size, p.quality.lower()): p.rate(self.usd_per_credit) for p in self.prices}


class ImageTable(_Strict):
    schema_version: int = 1
    models: tuple[ImageModelEntry, ...]
