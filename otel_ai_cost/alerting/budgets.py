"""The budgets file: spend limits per tag set (a team, or a team's feature in one environment).

budgets:
  - tags: {team: search}
    usd: 50            # per period
    period: 1d         # rolling window, a Prometheus duration (default 1d)
    warn_at: 0.8       # warning at 80% of the budget (default; null for none)
    on_exceed: warn    # in the process, with OTEL_AI_COST_BUDGETS_FILE: warn or raise (the rules ignore it)
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from otel_ai_cost.budgets import period_seconds
from otel_ai_cost.config_files import ConfigFileError, load_config_file
from otel_ai_cost.tags import RESERVED_DIMENSIONS, sanitize_name, sanitize_value

# As Prometheus reads durations: each unit at most once, largest first (1h30m, not 30m1h or 1h1h).
_DURATION = re.compile(r"^(?=.)([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$")
_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9  # Prometheus keeps durations in int64 nanoseconds (~292 years)


class BudgetsError(ConfigFileError):
    """The budgets file is unreadable or invalid; the message names file, entry and field."""


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    """Shown in alerts; defaults to the tag values joined by "/"."""
    tags: dict[str, str] = Field(min_length=1)
    """Dimension -> value, as given to `otel_ai_cost.tags()`: all must match."""
    usd: float = Field(gt=0, allow_inf_nan=False)
    period: str = "1d"
    warn_at: float | None = Field(default=0.8, gt=0, lt=1)
    on_exceed: Literal["raise", "warn"] = "warn"
    """What the process does once the budget is spent (`otel_ai_cost.budgets`); the alert rules ignore it."""

    @field_validator("tags")
    @classmethod
    def _tags_as_recorded(cls, tags: dict[str, str]) -> dict[str, str]:
        for dimension, value in tags.items():
            if sanitize_name(dimension) != dimension or dimension in RESERVED_DIMENSIONS:
                raise ValueError(f"{dimension!r} is not a tag dimension (lower-case letters, digits, _)")
            if sanitize_value(value) != value:
                raise ValueError(f"{value!r} is not a tag value as recorded (no control characters, <= 128 chars)")
            _no_template(value)
        return tags

    @field_validator("name")
    @classmethod
    def _name_without_template(cls, name: str | None) -> str | None:
        if name is not None:
            _no_template(name)
        return name

    @field_validator("period")
    @classmethod
    def _prometheus_duration(cls, period: str) -> str:
        if not _DURATION.match(period):
            raise ValueError(f"{period!r} is not a Prometheus duration such as 1h, 1d, 7d or 1h30m")
        seconds = period_seconds(period)
        if seconds == 0:
            raise ValueError(f"{period!r} is no time: give a period greater than 0")
        if seconds > _MAX_DURATION_SECONDS:
            raise ValueError(f"{period!r} is longer than Prometheus allows (292y)")
        return period

    @property
    def label(self) -> str:
        return self.name or "/".join(self.tags.values())


def _no_template(text: str) -> None:
    # Prometheus and Grafana expand alert labels and annotations as Go templates.
    if "{{" in text:
        raise ValueError(f"{text!r} contains '{{{{', which alert rules would read as a template")


class BudgetsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    budgets: tuple[Budget, ...]

    @field_validator("budgets")
    @classmethod
    def _not_empty(cls, budgets: tuple[Budget, ...]) -> tuple[Budget, ...]:
        if not budgets:
            raise ValueError("give at least one budget")
        return budgets

    def require_distinct_names(self) -> None:
        """Raise `BudgetsError` when two budgets have one name: it names their alerts (the `budget`
        label, the Grafana rule's uid), so two alike would be one alert."""
        seen: dict[str, int] = {}
        for index, budget in enumerate(self.budgets):
            if budget.label in seen:
                raise BudgetsError(
                    f"budgets[{index}] is named {budget.label!r} like budgets[{seen[budget.label]}]: "
                    "give each a `name` (e.g. search-daily, search-monthly)"
                )
            seen[budget.label] = index


def load_budgets(path: str | os.PathLike[str]) -> BudgetsFile:
    """Read and validate a budgets file (YAML, or JSON by suffix), or raise `BudgetsError`."""
    return load_config_file(path, BudgetsFile, error=BudgetsError, naming_keys=("name", "tags"))
