"""The runbooks of the shipped alert rules cover what the package can report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_ai_cost.pricing.cost import UnpricedReason

ALERTS = Path(__file__).resolve().parents[2] / "dashboards" / "alerts"
RULE_FILES = [ALERTS / "ai-cost.rules.yaml", ALERTS / "ai-cost.grafana.yaml"]
REASONS = sorted(value for name, value in vars(UnpricedReason).items() if name.isupper())


def runbook(path: Path, alert: str) -> str:
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    (rule,) = [rule for rule in rules if (rule.get("alert") or rule.get("title")) == alert]
    text: str = rule["annotations"]["runbook"]
    return text


def test_the_reasons_are_the_seven_known_ones() -> None:
    assert len(REASONS) == 7, REASONS


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
@pytest.mark.parametrize("reason", REASONS)
def test_every_unpriced_reason_is_explained(path: Path, reason: str) -> None:
    text = runbook(path, "AICostUnpricedModel")
    # Named as the start of an explanation ("reason:" or "reason or other:"), not only mentioned.
    assert re.search(rf"\b{reason}\b( or \w+)?:", text) or re.search(rf"\b\w+ or {reason}:", text), (
        f"{reason} is not explained in the AICostUnpricedModel runbook of {path.name}"
    )


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_the_untagged_runbook_names_a_label_the_metric_has(path: Path) -> None:
    text = runbook(path, "AICostUntaggedSpend")
    assert "service label" not in text
    assert 'sum by (job) (rate(gen_ai_client_cost_USD_total{ai_cost_untagged="true"}[1h]))' in text


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_the_spike_runbook_sends_cost_per_request_to_the_overview(path: Path) -> None:
    text = runbook(path, "AICostSpendSpike")
    assert "cost per request (Overview)" in " ".join(text.split())


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_the_untagged_runbook_finds_requests_with_a_team_but_no_feature(path: Path) -> None:
    """tags(team="search") alone records team=search, feature=untagged: filtering team = untagged misses it."""
    text = " ".join(runbook(path, "AICostUntaggedSpend").split())
    assert "filter team = untagged to see" not in text
    assert "feature = untagged" in text
    query = "sum by (ai_cost_team, ai_cost_feature, gen_ai_request_model) "
    assert query + '(rate(gen_ai_client_cost_USD_total{ai_cost_untagged="true"}[1h]))' in text
