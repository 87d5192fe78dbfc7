"""Black Forest Labs' FLUX API: JSON job submissions, the `cost` they answer with, the table price.

Prices (docs.bfl.ai pricing, 1 credit = $0.01): FLUX1.1 [pro] $0.04 per image, FLUX.1 [dev]
$0.025, Kontext [pro] $0.04; FLUX.2 [pro] per output megapixel (of 1024 x 1024 pixels, rounded
up): $0.03 the first, $0.015 each further one.
"""

from __future__ import annotations

import json

import pytest
from wire_testkit import facts_for

from otel_ai_cost import PriceEngine
from otel_ai_cost.providers.bfl import BFLProtocol

BFL = BFLProtocol()
HOST = "api.bfl.ai"
POLLING_URL = "https://api.us1.bfl.ai/v1/get_result?id=3f2b9e1a-5c4d-4e8f-9a1b-2c3d4e5f6a7b"


def submitted(**extra: object) -> bytes:
    return json.dumps({"id": "3f2b9e1a-5c4d-4e8f-9a1b-2c3d4e5f6a7b", "polling_url": POLLING_URL, **extra}).encode()


@pytest.fixture(scope="module")
def engine() -> PriceEngine:
    return PriceEngine()


def test_request_facts_come_from_the_path_and_the_json_body() -> None:
    facts = facts_for(
        BFL,
        "/v1/flux-dev",
        {"prompt": "a fox", "width": 1024, "height": 768, "steps": 28, "guidance": 3, "seed": 42},
        host=HOST,
    )
    assert (facts.provider, facts.operation, facts.request_model) == (
        "black_forest_labs",
        "image_generation",
        "flux-dev",
    )
    assert (facts.image_count, facts.image_size, facts.image_steps) == (1, "1024x768", 28)
    fill = facts_for(BFL, "/v1/flux-pro-1.0-fill", {"prompt": "x", "image": "aGVsbG8="}, host=HOST)
    assert fill.operation == "image_edit"


def test_the_cost_bfl_answers_with_is_the_price(engine: PriceEngine) -> None:
    facts = facts_for(BFL, "/v1/flux-2-pro", {"prompt": "a fox", "width": 1440, "height": 1440}, host=HOST)
    parsed = BFL.parse_response(facts, submitted(cost=4.5, input_mp=0, output_mp=2.07))
    assert parsed.response_id == "3f2b9e1a-5c4d-4e8f-9a1b-2c3d4e5f6a7b"
    # 4.5 credits x $0.01
    assert parsed.usage.provider_reported_cost == pytest.approx(0.045)
    cost = engine.price(parsed.usage)
    assert (cost.total_usd, cost.price_source) == (pytest.approx(0.045), "provider")


@pytest.mark.parametrize(
    ("path", "body", "expected_usd"),
    [
        ("/v1/flux-pro-1.1", {"prompt": "x", "width": 1024, "height": 768}, 0.04),
        ("/v1/flux-dev", {"prompt": "x", "steps": 50}, 0.025),
        ("/v1/flux-kontext-pro", {"prompt": "x", "aspect_ratio": "16:9"}, 0.04),
        # 1440 x 1440 = 2,073,600 px = 1.98 MP -> 2 MP: $0.03 + $0.015 = $0.045
        ("/v1/flux-2-pro", {"prompt": "x", "width": 1440, "height": 1440}, 0.045),
        # 1024 x 1024 = exactly 1 MP: $0.03
        ("/v1/flux-2-pro", {"prompt": "x", "width": 1024, "height": 1024}, 0.03),
    ],
)
def test_without_a_cost_the_table_prices_the_request(
    engine: PriceEngine, path: str, body: dict[str, object], expected_usd: float
) -> None:
    facts = facts_for(BFL, path, body, host=HOST)
    usage = BFL.parse_response(facts, submitted()).usage
    assert usage.provider_reported_cost is None
    cost = engine.price(usage)
    assert cost.priced, cost.unpriced_reason
    assert (cost.total_usd, cost.price_source) == (pytest.approx(expected_usd), "otel-ai-cost-images")


def test_a_megapixel_model_without_a_size_or_a_cost_is_unpriced_not_zero(engine: PriceEngine) -> None:
    facts = facts_for(BFL, "/v1/flux-2-pro", {"prompt": "x"}, host=HOST)
    cost = engine.price(BFL.parse_response(facts, submitted()).usage)
    assert (cost.priced, cost.unpriced_reason) == (False, "unknown_image_size")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/get_result?id=3f2b9e1a"),
        ("GET", "/v1/flux-pro-1.1"),
        ("POST", "/v1/credits"),
        ("POST", "/v1/finetune"),
        ("POST", "/v1/flux-dev/extra"),
        ("POST", "/v2/flux-dev"),
    ],
)
def test_polling_and_account_requests_are_not_billable(method: str, path: str) -> None:
    assert BFL.parse_request(method, HOST, path, "application/json", b'{"prompt": "x"}') is None


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", submitted(cost="4"), submitted(cost=True), submitted(cost=-1), submitted(cost=1e12)],
)
def test_a_bad_or_unbelievable_response_never_raises_and_is_not_taken_as_a_cost(body: bytes) -> None:
    facts = facts_for(BFL, "/v1/flux-pro-1.1", {"prompt": "x"}, host=HOST)
    usage = BFL.parse_response(facts, body).usage
    assert usage.provider_reported_cost is None and usage.image_count == 1


@pytest.mark.parametrize("field", [{"width": "1024", "height": 768}, {"width": -5, "height": 5}, {"steps": 2.5}])
def test_bad_request_fields_are_left_out(field: dict[str, object]) -> None:
    facts = facts_for(BFL, "/v1/flux-dev", {"prompt": "x", **field}, host=HOST)
    assert facts.image_size is None and facts.image_steps is None


def test_stream_parser_reads_the_json_fed_in_pieces() -> None:
    facts = facts_for(BFL, "/v1/flux-pro-1.1", {"prompt": "x"}, host=HOST)
    parser = BFL.stream_parser(facts)
    body = submitted(cost=4)
    for index in range(len(body)):
        parser.feed(body[index : index + 1])
    assert parser.finish().usage.provider_reported_cost == pytest.approx(0.04)  # 4 credits x $0.01
