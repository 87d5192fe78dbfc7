"""The user's own prices: a YAML or JSON file named by `OTEL_AI_COST_PRICES_FILE`.

It holds what the public catalogs cannot know: negotiated discounts, prices of internal or
self-hosted models, Azure deployment names, and provisioned (PTU) deployments. The file is
re-read when it changes; a file that does not validate is reported with the file, the entry and
the field, and the prices loaded before stay in force.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from otel_ai_cost.config_files import ConfigFileError, load_config_file
from otel_ai_cost.pricing import names
from otel_ai_cost.pricing.cost import PriceSource
from otel_ai_cost.pricing.rates import ModelPrices
from otel_ai_cost.pricing.schema import ImagePriceEntry, TokenPriceEntry

logger = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelOverride(_Strict):
    """Prices for a model the catalogs lack or price differently for you."""

    provider: str
    model: str
    aliases: tuple[str, ...] = ()
    tokens: TokenPriceEntry | None = None
    images: tuple[ImagePriceEntry, ...] = ()
    usd_per_credit: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _has_a_price(self) -> ModelOverride:
        if self.tokens is None and not self.images:
            raise ValueError("give `tokens` or `images` prices")
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

    provider: str
    model: str = "*"
    """Model name or shell-style pattern ("gpt-4o*")."""
    percent: float = Field(gt=0, le=100)


class Deployment(_Strict):
    """A named deployment (Azure OpenAI, Bedrock provisioned throughput) and what it runs."""

    provider: str = "azure.ai.openai"
    deployment: str
    model: str
    """The model the deployment serves, as the catalogs name it."""
    provisioned: bool = False
    """Provisioned capacity (PTU) is paid for up front: requests cost 0, list cost is still computed."""


class OverridesFile(_Strict):
    models: tuple[ModelOverride, ...] = ()
    discounts: tuple[Discount, ...] = ()
    deployments: tuple[Deployment, ...] = ()


class OverridesError(ConfigFileError):
    """The overrides file is unreadable or invalid; the message names file, entry and field."""


def parse_overrides(path: str | os.PathLike[str]) -> OverridesFile:
    """Read and validate an overrides file, or raise `OverridesError`."""
    return load_config_file(path, OverridesFile, error=OverridesError, naming_keys=("provider", "model", "deployment"))


@dataclass(slots=True, frozen=True)
class DeploymentTarget:
    model: str
    provisioned: bool


class Overrides:
    """The validated overrides in a form quick to look up."""

    def __init__(self, data: OverridesFile | None = None) -> None:
        data = data or OverridesFile()
        self._models: dict[tuple[str, str], ModelPrices] = {}
        for entry in data.models:
            prices = entry.model_prices()
            for name in (entry.model, *entry.aliases):
                self._models[(entry.provider, names.normalize(name))] = prices
        self._deployments = {
            (d.provider, d.deployment.lower()): DeploymentTarget(d.model, d.provisioned) for d in data.deployments
        }
        self._discounts = data.discounts
        self.entries = data

    def model(self, provider: str, model: str) -> ModelPrices | None:
        for candidate in names.candidates(model):
            prices = self._models.get((provider, candidate))
            if prices is not None:
                return prices
        return None

    def deployment(self, provider: str, name: str) -> DeploymentTarget | None:
        return self._deployments.get((provider, name.lower()))

    def discount_factor(self, provider: str, model: str) -> float:
        """What is left to pay after the most specific matching discount (1.0 = none)."""
        model = model.lower()
        best: Discount | None = None
        for discount in self._discounts:
            if discount.provider == provider and fnmatch.fnmatchcase(model, discount.model.lower()):
                if best is None or len(discount.model) > len(best.model):
                    best = discount
        return 1.0 if best is None else 1.0 - best.percent / 100.0


class OverridesWatcher:
    """Keeps `Overrides` in step with a file, re-checking it at most every `interval` seconds."""

    def __init__(self, path: str | os.PathLike[str] | None, interval: float = 2.0) -> None:
        self.path = Path(path) if path else None
        self.interval = interval
        self.generation = 0
        """Bumped on every successful (re)load, so caches built on the old prices can be dropped."""
        self.last_error: str | None = None
        self._current = Overrides()
        self._stamp: tuple[int, int] | None = None
        self._next_check = 0.0
        if self.path is not None:
            self._reload_if_changed()

    def current(self) -> Overrides:
        if self.path is not None:
            now = time.monotonic()
            if now >= self._next_check:
                self._next_check = now + self.interval
                self._reload_if_changed()
        return self._current

    def _reload_if_changed(self) -> None:
        assert self.path is not None
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError as exc:
            self._report(f"{self.path}: cannot read: {exc.strerror or exc}")
            return
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            data = parse_overrides(self.path)
        except OverridesError as exc:
            self._report(str(exc))
            return
        self._current = Overrides(data)
        self.generation += 1
        self.last_error = None
        logger.info("otel-ai-cost: loaded prices overrides from %s", self.path)

    def _report(self, message: str) -> None:
        if message != self.last_error:
            logger.error("otel-ai-cost: %s; keeping the previous prices", message)
        self.last_error = message
