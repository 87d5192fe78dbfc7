"""Stability AI's v2beta REST API: multipart requests, image / JSON / async-job responses, credits.

Prices (platform.stability.ai/pricing, 1 credit = $0.01): Stable Image Ultra 8 credits, Core 3,
SD3.5 Large 6.5, Large Turbo 4, Medium 3.5, Flash 2.5 per successful generation.
"""

from __future__ import annotations

import base64
import json

import pytest
from urllib3 import encode_multipart_formdata

from otel_ai_cost import PriceEngine
from otel_ai_cost.providers.base import RequestFacts
from otel_ai_cost.providers.stability import StabilityProtocol

STABILITY = StabilityProtocol()
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
"""The start of a PNG, as `Accept: image/*` returns it."""


def multipart(fields: dict[str, str | tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """The body and content type requests' `files=` / `data=` sends (urllib3's encoder)."""
    return encode_multipart_formdata(fields)


def request(path: str, fields: dict[str, str | tuple[str, bytes, str]], method: str = "POST") -> RequestFacts | None:
    body, content_type = multipart(fields)
    return STABILITY.parse_request(method, "api.stability.ai", path, content_type, body)


@pytest.fixture(scope="module")
def engine() -> PriceEngine:
    return PriceEngine()


@pytest.mark.parametrize(
    ("path", "fields", "operation", "model", "expected_usd"),
    [
        # 8 credits x $0.01
        ("/v2beta/stable-image/generate/ultra", {"prompt": "x"}, "image_generation", "stable-image-ultra", 0.08),
        # 3 credits x $0.01
        (
            "/v2beta/stable-image/generate/core",
            {"prompt": "x", "aspect_ratio": "16:9"},
            "image_generation",
            "stable-image-core",
            0.03,
        ),
        # no model: the API's default sd3.5-large, 6.5 credits x $0.01
        ("/v2beta/stable-image/generate/sd3", {"prompt": "x"}, "image_generation", "sd3.5-large", 0.065),
        # 4 credits x $0.01
        (
            "/v2beta/stable-image/generate/sd3",
            {"prompt": "x", "model": "sd3.5-large-turbo"},
            "image_generation",
            "sd3.5-large-turbo",
            0.04,
        ),
        # image-to-image: the image part is skipped, the model read; 3.5 credits x $0.01
        (
            "/v2beta/stable-image/generate/sd3",
            {
                "image": ("in.png", PNG, "image/png"),
                "mode": "image-to-image",
                "model": "sd3.5-medium",
                "strength": "0.6",
            },
            "image_generation",
            "sd3.5-medium",
            0.035,
        ),
    ],
)
def test_generate_endpoints_are_priced_in_credits(
    engine: PriceEngine,
    path: str,
    fields: dict[str, str | tuple[str, bytes, str]],
    operation: str,
    model: str,
    expected_usd: float,
) -> None:
    facts = request(path, fields)
    assert facts is not None
    assert (facts.provider, facts.operation, facts.request_model, facts.image_count) == (
        "stability_ai",
        operation,
        model,
        1,
    )
    parsed = STABILITY.parse_response(facts, PNG)
    assert parsed.usage_found and parsed.usage.image_count == 1
    cost = engine.price(parsed.usage)
    assert cost.priced, cost.unpriced_reason
    assert (cost.total_usd, cost.price_source) == (pytest.approx(expected_usd), "otel-ai-cost-images")


def test_json_response_gives_the_finish_reason_without_decoding_the_image() -> None:
    facts = request("/v2beta/stable-image/generate/core", {"prompt": "x"})
    assert facts is not None
    body = json.dumps(
        {"image": base64.b64encode(PNG * 50).decode(), "finish_reason": "CONTENT_FILTERED", "seed": 343940597}
    ).encode()
    parsed = STABILITY.parse_response(facts, body)
    assert parsed.finish_reasons == ("content_filtered",)
    assert parsed.usage.image_count == 1  # a filtered generation is still a generation
    assert parsed.response_id is None


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v2beta/stable-image/control/sketch", "stable-image-control-sketch"),
        ("/v2beta/stable-image/control/style-transfer", "stable-image-control-style-transfer"),
        ("/v2beta/stable-image/edit/inpaint", "stable-image-edit-inpaint"),
        ("/v2beta/stable-image/edit/remove-background", "stable-image-edit-remove-background"),
        ("/v2beta/stable-image/upscale/fast", "stable-image-upscale-fast"),
        ("/v2beta/stable-image/upscale/creative", "stable-image-upscale-creative"),
    ],
)
def test_control_edit_and_upscale_are_image_edits_named_by_endpoint(engine: PriceEngine, path: str, model: str) -> None:
    facts = request(path, {"image": ("in.png", PNG, "image/png"), "prompt": "x"})
    assert facts is not None
    assert (facts.operation, facts.request_model) == ("image_edit", model)
    # not in the bundled table: recorded as unpriced (an overrides file can price them), never as 0
    cost = engine.price(STABILITY.parse_response(facts, PNG).usage)
    assert not cost.priced and cost.unpriced_reason in ("unknown_model", "unknown_provider")


def test_an_asynchronous_job_is_billed_when_accepted_and_its_polling_is_not() -> None:
    facts = request("/v2beta/stable-image/upscale/creative", {"image": ("in.png", PNG, "image/png"), "prompt": "x"})
    assert facts is not None
    job = "a6dc6c6e20acda010fe14d71f180658f2896ed9b4ec25aa99a6ff06c796987c4"
    parsed = STABILITY.parse_response(facts, json.dumps({"id": job}).encode())
    assert parsed.response_id == job
    assert parsed.usage.image_count == 1
    assert STABILITY.parse_request("GET", "api.stability.ai", "/v2beta/results/a6dc6c6e", None, b"") is None


@pytest.mark.parametrize(
    "path",
    [
        "/v2beta/user/balance",
        "/v2beta/stable-image/generate",
        "/v2beta/stable-image/generate/ultra/extra",
        "/v2beta/stable-image/unknown-family/x",
        "/v1/user/account",
    ],
)
def test_other_paths_are_not_billable(path: str) -> None:
    assert request(path, {"prompt": "x"}) is None


def test_a_json_body_and_a_missing_content_type_still_read_the_model() -> None:
    body = json.dumps({"model": "sd3.5-flash", "prompt": "x"}).encode()
    facts = STABILITY.parse_request("POST", "api.stability.ai", "/v2beta/stable-image/generate/sd3", None, body)
    assert facts is not None and facts.request_model == "sd3.5-flash"
    form, _ = multipart({"model": "sd3.5-medium"})
    facts = STABILITY.parse_request("POST", "api.stability.ai", "/v2beta/stable-image/generate/sd3", None, form)
    assert facts is not None and facts.request_model == "sd3.5-medium"


@pytest.mark.parametrize("body", [b"", b"{", b"\xff" * 100, b'{"finish_reason": 5}', b"[]", b'{"id": ["x"]}'])
def test_bad_response_bodies_never_raise(body: bytes) -> None:
    facts = request("/v2beta/stable-image/generate/ultra", {"prompt": "x"})
    assert facts is not None
    parsed = STABILITY.parse_response(facts, body)
    assert parsed.usage.image_count == 1 and parsed.response_id is None


def test_stream_parser_reads_a_json_response_fed_in_pieces() -> None:
    facts = request("/v2beta/stable-image/generate/ultra", {"prompt": "x"})
    assert facts is not None
    body = json.dumps({"image": base64.b64encode(PNG).decode(), "finish_reason": "SUCCESS", "seed": 1}).encode()
    parser = STABILITY.stream_parser(facts)
    for start in range(0, len(body), 1000):
        parser.feed(body[start : start + 1000])
    parsed = parser.finish()
    assert parsed.finish_reasons == ("success",) and parsed.usage.image_count == 1
