"""The cost table printed at exit (`OTEL_METRICS_EXPORTER=ai_cost_summary`)."""

from __future__ import annotations

import io

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from otel_ai_cost.exporters.summary import CostSummaryExporter


def table(*records: tuple[float, dict[str, object]]) -> str:
    out = io.StringIO()
    provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(CostSummaryExporter(out), 10**9)])
    cost = provider.get_meter("otel_ai_cost.instrumentor").create_counter("gen_ai.client.cost", unit="USD")
    for usd, attributes in records:
        cost.add(usd, attributes)
    provider.shutdown()
    return out.getvalue()


def spend(team: str, untagged: bool, model: str = "gpt-4o") -> dict[str, object]:
    return {
        "ai.cost.team": team,
        "ai.cost.feature": "chat",
        "gen_ai.request.model": model,
        "ai.cost.untagged": untagged,
    }


def test_untagged_spend_is_what_the_requests_say_was_untagged() -> None:
    """With OTEL_AI_COST_REQUIRED_TAGS=team,cost_center a request with a team but no cost center is
    untagged, though neither its team nor its feature reads "untagged"."""
    text = table((3.0, spend("search", untagged=True)), (1.0, spend("search", untagged=False, model="gpt-4o-mini")))
    assert "untagged: $3.00 (75.0% of spend)" in text
    assert "$4.00" in text  # the total


def test_the_same_team_feature_and_model_is_one_row() -> None:
    text = table((1.0, spend("search", untagged=True)), (2.0, spend("search", untagged=False)))
    rows = [line for line in text.splitlines() if "gpt-4o" in line]
    assert len(rows) == 1 and rows[0].rstrip().endswith("$3.00")


def test_fully_tagged_spend_has_no_untagged_line() -> None:
    assert "untagged:" not in table((2.0, spend("search", untagged=False)))
