"""The schema of the overrides file (pydantic models), imported only when a file is read.

Kept apart from `overrides` so that importing the package (and pricing with the catalogs alone)
does not import pydantic.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from otel_ai_cost.pricing.cost import PriceSource
from otel_ai_cost.pricing.names import normalize
from otel_ai_cost.pricing.rates import ModelPrices
from otel_ai_cost.pricing.schema import ImagePriceEntry, TokenPriceEntry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


ProviderName = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]
"""A gen_ai.provider.name; "OpenAI" is openai, as requests report it."""


class ModelOverride(_Strict):
    """Prices for a model the catalogs lack or price differently for you."""

    provider: ProviderName
    model: str
    aliases: tuple[str, ...] = ()
    tokens: TokenPriceEntry | None = None
    images: tuple[ImagePriceEntry, ...] = ()
    usd_per_credit: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _has_a_price(self) -> ModelOverride:
        if self.tokens is None and not self.images:
            raise ValueError("give `tokens` or `images` prices")
        if self.usd_per_credit is None and any(price.credits is not None for price in self.images):
            raise ValueError("prices in credits need usd_per_credit")
        return self

    def model_prices(self) -> ModelPrices:
        return ModelPrices(
            model=self.model,
            source=PriceSource.OVERRIDES,
            tokens=self.tokens.rates() if self.tokens else None,
            images={(p.size, p.quality.lower()): p.rate(self.usd_per_credit) for p in self.images},
        )


class Discount(_Strict):
    """A negotiated discount off list prices, e.g. an enterprise agreement."""

    provider: ProviderName
    model: str = "*"
    """Model name or shell-style pattern ("gpt-4o*")."""
    percent: float = Field(gt=0, le=100)


class Deployment(_Strict):
    """A named deployment (Azure OpenAI, Bedrock provisioned throughput) and what it runs."""

    provider: ProviderName = "azure.ai.openai"
    deployment: str
    model: str
    """The model the deployment serves, as the catalogs name it."""
    provisioned: bool = False
    """Provisioned capacity (PTU) is paid for up front: requests cost 0, list cost is still computed."""


class OverridesFile(_Strict):
    models: tuple[ModelOverride, ...] = ()
    discounts: tuple[Discount, ...] = ()
    deployments: tuple[Deployment, ...] = ()

    @model_validator(mode="after")
    def _each_name_once(self) -> OverridesFile:
        seen: dict[tuple[str, str], int] = {}
        for index, entry in enumerate(self.models):
            for name in (entry.model, *entry.aliases):
                key = (entry.provider, normalize(name))
                if key in seen and seen[key] != index:
                    raise ValueError(f"models[{index}]: {entry.provider} {name!r} is also models[{seen[key]}]")
                seen[key] = index
        return self

    def warnings(self, known_providers: Collection[str]) -> list[str]:
        """Entries that validate but may never apply: a provider no request names unless an
        endpoint map says so, a Bedrock ARN left at the default provider (Azure OpenAI)."""
        found: list[str] = []
        sections: dict[str, tuple[ModelOverride | Discount | Deployment, ...]] = {
            "models": self.models,
            "discounts": self.discounts,
            "deployments": self.deployments,
        }
        for section, entries in sections.items():
            for index, entry in enumerate(entries):
                if entry.provider not in known_providers:
                    found.append(
                        f"{section}[{index}]: provider {entry.provider!r} is not one otel-ai-cost names by default; "
                        "requests to it need OTEL_AI_COST_ENDPOINTS (URL=PROTOCOL:PROVIDER)"
                    )
        for index, deployment in enumerate(self.deployments):
            if "provider" not in deployment.model_fields_set and deployment.deployment.startswith("arn:aws:bedrock:"):
                found.append(
                    f"deployments[{index}]: {deployment.deployment!r} is a Bedrock ARN but the provider defaults "
                    "to azure.ai.openai; add `provider: aws.bedrock`"
                )
        return found
