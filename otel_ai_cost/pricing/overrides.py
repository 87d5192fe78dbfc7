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
from typing import TYPE_CHECKING

from otel_ai_cost.config_files import ConfigFileError, load_config_file
from otel_ai_cost.pricing import names
from otel_ai_cost.pricing.rates import ModelPrices

if TYPE_CHECKING:
    from otel_ai_cost.pricing.overrides_file import Discount, OverridesFile

logger = logging.getLogger(__name__)


class OverridesError(ConfigFileError):
    """The overrides file is unreadable or invalid; the message names file, entry and field."""


def parse_overrides(path: str | os.PathLike[str]) -> OverridesFile:
    """Read and validate an overrides file, or raise `OverridesError`."""
    from otel_ai_cost.pricing.overrides_file import OverridesFile

    return load_config_file(path, OverridesFile, error=OverridesError, naming_keys=("provider", "model", "deployment"))


@dataclass(slots=True, frozen=True)
class DeploymentTarget:
    model: str
    provisioned: bool


class Overrides:
    """The validated overrides in a form quick to look up."""

    def __init__(self, data: OverridesFile | None = None) -> None:
        self._models: dict[tuple[str, str], ModelPrices] = {}
        self._deployments: dict[tuple[str, str], DeploymentTarget] = {}
        self._discounts: tuple[Discount, ...] = ()
        self._entries = data
        if data is None:
            return  # no file: nothing to index, and no pydantic model to build
        for entry in data.models:
            prices = entry.model_prices()
            for name in (entry.model, *entry.aliases):
                self._models[(entry.provider, names.normalize(name))] = prices
        self._deployments = {
            (d.provider, d.deployment.lower()): DeploymentTarget(d.model, d.provisioned) for d in data.deployments
        }
        self._discounts = data.discounts

    @property
    def entries(self) -> OverridesFile:
        """The file's entries as validated (an empty file when there is none)."""
        if self._entries is None:
            from otel_ai_cost.pricing.overrides_file import OverridesFile

            self._entries = OverridesFile()
        return self._entries

    # The file's provider names are lower-cased when it is read; so are the requests' here (an
    # endpoint map may name its provider "vLLM").
    def model(self, provider: str, model: str) -> ModelPrices | None:
        provider = provider.lower()
        for candidate in names.candidates(model):
            prices = self._models.get((provider, candidate))
            if prices is not None:
                return prices
        return None

    def deployment(self, provider: str, name: str) -> DeploymentTarget | None:
        return self._deployments.get((provider.lower(), name.lower()))

    def discount_factor(self, provider: str, *models: str) -> float:
        """What is left to pay after the most specific discount matching any of the model's names
        (as sent, normalized, undated, as the catalog names it); 1.0 = none."""
        provider = provider.lower()
        lowered = {model.lower() for model in models}
        best: Discount | None = None
        for discount in self._discounts:
            pattern = discount.model.lower()
            if discount.provider == provider and any(fnmatch.fnmatchcase(model, pattern) for model in lowered):
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
