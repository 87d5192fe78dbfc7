"""Commitments on metrics: `ai.cost.list_cost` for every priced request and `ai.cost.commitment` on cost metrics.

Real openai SDK (OpenAI and Azure OpenAI) over httpx2.MockTransport, real OTel SDK; costs in focus_testkit.
"""

from __future__ import annotations

import pytest
from focus_testkit import O4_MINI_COST, PTU_LIST_COST, Workload, workload_fixture  # noqa: F401

from otel_ai_cost import PriceEngine
from otel_ai_cost.pricing import Commitment
from otel_ai_cost.usage import ServiceTier, Usage


def totals(workload: Workload, name: str) -> dict[str, float]:
    by_commitment: dict[str, float] = {}
    for point in workload.points(name):
        commitment = str(point.attributes.get("ai.cost.commitment"))
        by_commitment[commitment] = by_commitment.get(commitment, 0.0) + point.value
    return by_commitment


def test_provisioned_request_costs_nothing_and_counts_its_pay_as_you_go_price(workload: Workload) -> None:
    workload.run()

    # 3 priced o4-mini requests on demand; the PTU request: effective 0, list = pay-as-you-go
    cost = totals(workload, "gen_ai.client.cost")
    listed = totals(workload, "ai.cost.list_cost")
    assert cost == pytest.approx({"on_demand": 3 * O4_MINI_COST, "provisioned": 0.0})
    assert listed == pytest.approx({"on_demand": 3 * O4_MINI_COST, "provisioned": PTU_LIST_COST})
    # Savings (cache hits) carry the label too.
    assert set(totals(workload, "ai.cost.savings")) == {"on_demand", "provisioned"}
    # Unpriced requests have no commitment: they are counted, not priced.
    assert all("ai.cost.commitment" not in point.attributes for point in workload.points("ai.cost.unpriced"))

    ptu_span = next(
        s for s in workload.spans.get_finished_spans() if s.attributes["gen_ai.request.model"] == "ptu-east"
    )
    assert ptu_span.attributes["ai.cost.commitment"] == "provisioned"
    assert ptu_span.attributes["gen_ai.usage.cost.amount"] == 0.0
    assert ptu_span.attributes["ai.cost.list_amount"] == pytest.approx(PTU_LIST_COST)


@pytest.mark.parametrize(
    ("tier", "commitment"),
    [
        (ServiceTier.DEFAULT, Commitment.ON_DEMAND),
        (ServiceTier.BATCH, Commitment.BATCH),
        (ServiceTier.FLEX, Commitment.FLEX),
        (ServiceTier.PRIORITY, Commitment.PRIORITY),
    ],
)
def test_the_engine_says_how_a_request_was_bought(tier: str, commitment: str) -> None:
    usage = Usage(provider="openai", request_model="o4-mini", input_tokens=1000, output_tokens=1000, service_tier=tier)
    cost = PriceEngine().price(usage)
    assert cost.priced and cost.commitment == commitment


def test_batch_list_cost_is_the_batch_price() -> None:
    cost = PriceEngine().price(
        Usage(provider="openai", request_model="o4-mini", input_tokens=1000, output_tokens=1000, service_tier="batch")
    )
    # batch is half price: (1000 x 1.10 + 1000 x 4.40) / 2 = 2750 per 1M; nothing negotiated, so list = effective
    assert cost.total_usd == pytest.approx(0.00275)
    assert cost.list_usd == pytest.approx(0.00275)
    assert cost.savings_usd == pytest.approx(0.00275)
