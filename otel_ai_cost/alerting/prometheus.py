"""Prometheus rule files: read one (to convert it), and write the rules of a budgets file."""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from otel_ai_cost.alerting.budgets import Budget, BudgetsFile
from otel_ai_cost.config_files import ConfigFileError, load_config_file
from otel_ai_cost.telemetry import names

BUDGET_GROUP = "otel-ai-cost-budgets"


class RulesError(ConfigFileError):
    """The rule file is unreadable or not a Prometheus rule file."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    alert: str | None = None
    record: str | None = None
    expr: str
    for_: str | None = Field(default=None, alias="for")
    keep_firing_for: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}

    @model_validator(mode="after")
    def _alert_or_record(self) -> Rule:
        if (self.alert is None) == (self.record is None):
            raise ValueError("give exactly one of `alert` and `record`")
        return self


class RuleGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    interval: str | None = None
    limit: int | None = None
    rules: tuple[Rule, ...] = ()


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: tuple[RuleGroup, ...]


def load_rule_file(path: str | os.PathLike[str]) -> RuleFile:
    """Read a Prometheus rule file, or raise `RulesError` naming the group and the field."""
    return load_config_file(path, RuleFile, error=RulesError, naming_keys=("name",))


def budget_rules(budgets: BudgetsFile) -> dict[str, Any]:
    """A Prometheus rule file (as data) with an alert per budget, and a warning where `warn_at` is set.
    Raises `BudgetsError` when two budgets have one name."""
    budgets.require_distinct_names()
    rules: list[dict[str, Any]] = []
    for budget in budgets.budgets:
        spent = f"sum(increase({names.PROMETHEUS_COST}{{{_matchers(budget)}}}[{budget.period}]))"
        labels = {names.prometheus_label(names.TAG_PREFIX + dim): value for dim, value in budget.tags.items()}
        labels["budget"] = budget.label
        rules.append(
            _budget_rule("AICostBudgetExceeded", f"{spent} > {_number(budget.usd)}", "critical", labels, budget)
        )
        if budget.warn_at is not None:
            warn = budget.usd * budget.warn_at
            expr = f"{spent} > {_number(warn)} <= {_number(budget.usd)}"
            rules.append(_budget_rule("AICostBudgetAtRisk", expr, "warning", labels, budget))
    return {"groups": [{"name": BUDGET_GROUP, "interval": "1m", "rules": rules}]}


def _budget_rule(alert: str, expr: str, severity: str, labels: dict[str, str], budget: Budget) -> dict[str, Any]:
    scope = ", ".join(f"{dim}={value}" for dim, value in budget.tags.items())
    limit = f"{_number(budget.usd)} USD per {budget.period}"
    state = "over" if alert == "AICostBudgetExceeded" else f"above {budget.warn_at:.0%} of"
    return {
        "alert": alert,
        "expr": expr,
        "for": "5m",
        "labels": {"severity": severity, **labels},
        "annotations": {
            "summary": f"Budget {budget.label}: {{{{ $value | humanize }}}} USD in the last {budget.period}, {state} "
            f"its {limit}",
            "description": f"GenAI spend of {scope} over the rolling {budget.period} window is {state} its budget "
            f"of {limit}.",
            "runbook": "Open the Overview dashboard filtered to these tags to see which feature and model spend, "
            "and the Efficiency dashboard for tokens per request. Stop or throttle a runaway job; if the "
            "spend is expected, raise the budget in the budgets file and regenerate the rules with "
            "`otel-ai-cost alerts budgets`.",
        },
    }


def _matchers(budget: Budget) -> str:
    # json.dumps writes a string literal PromQL reads back the same (quotes and backslashes escaped).
    return ", ".join(
        f"{names.prometheus_label(names.TAG_PREFIX + dim)}={json.dumps(value, ensure_ascii=False)}"
        for dim, value in budget.tags.items()
    )


def _number(value: float) -> str:
    return f"{value:.10g}"
