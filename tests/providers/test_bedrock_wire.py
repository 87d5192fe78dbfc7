"""Amazon Bedrock Runtime bodies and events (fixtures/bedrock_*), as botocore hands them over.

Bedrock's own counts (Converse usage, X-Amzn-Bedrock-*-Token-Count headers, invocation metrics)
leave the prompt-cache tokens out of the input count; Usage.input_tokens puts them in.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_malformed_bodies import BAD_BODIES, json_values, sane
from wire_testkit import fixture

from otel_ai_cost.pricing import PriceEngine
from otel_ai_cost.providers.base import ParsedResponse
from otel_ai_cost.providers.bedrock import BedrockRequest, parse_request
from otel_ai_cost.usage import Usage

HAIKU_35 = "anthropic.claude-3-5-haiku-20241022-v1:0"


def request(operation: str, model: str, body: dict[str, Any] | None = None, **params: Any) -> BedrockRequest:
    api_params: dict[str, Any] = {"modelId": model, **params}
    if body is not None:
        api_params["body"] = json.dumps(body).encode()
    parsed = parse_request(operation, api_params)
    assert parsed is not None
    return parsed


def invoke(model: str, body: dict[str, Any], response: bytes, headers: dict[str, str] | None = None) -> ParsedResponse:
    metadata = {"ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": headers or {}}}
    return request("InvokeModel", model, body).parse_response(metadata, response)


def bedrock_headers(input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-amzn-bedrock-input-token-count": str(input_tokens),
        "x-amzn-bedrock-output-token-count": str(output_tokens),
        "x-amzn-bedrock-cache-read-input-token-count": str(cache_read),
        "x-amzn-bedrock-cache-write-input-token-count": str(cache_write),
    }


def test_converse_with_cache_read_and_write() -> None:
    converse = request("Converse", HAIKU_35, messages=[], serviceTier={"type": "default"})
    assert (converse.facts.provider, converse.facts.operation, converse.facts.stream) == ("aws.bedrock", "chat", False)

    parsed = converse.parse_response(json.loads(fixture("bedrock_converse_cache.json")), None)

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="aws.bedrock",
            request_model=HAIKU_35,
            input_tokens=8288,  # 96 + 6144 cache read + 2048 cache write
            cache_read_tokens=6144,
            cache_write_tokens=2048,
            output_tokens=412,
        ),
        finish_reasons=("end_turn",),
    )


def test_converse_cache_details_split_1h_writes() -> None:
    converse = request("Converse", "global.anthropic.claude-sonnet-4-5-20250929-v1:0")
    usage = {
        "inputTokens": 10,
        "outputTokens": 20,
        "totalTokens": 3030,
        "cacheWriteInputTokens": 3000,
        "cacheDetails": [{"ttl": "1h", "inputTokens": 1000}, {"ttl": "5m", "inputTokens": 2000}],
    }
    parsed = converse.parse_response({"usage": usage, "stopReason": "max_tokens"}, None)
    assert (parsed.usage.input_tokens, parsed.usage.cache_write_tokens, parsed.usage.cache_write_1h_tokens) == (
        3010,
        2000,
        1000,
    )


def test_converse_stream_metadata_event() -> None:
    stream = request("ConverseStream", "us.amazon.nova-lite-v1:0", messages=[])
    assert stream.facts.stream and stream.facts.stream_usage_requested
    parser = stream.stream_parser()
    for line in fixture("bedrock_converse_stream.jsonl").splitlines():
        parser.feed(json.loads(line))

    assert parser.finish() == ParsedResponse(
        usage=Usage(
            provider="aws.bedrock", request_model="us.amazon.nova-lite-v1:0", input_tokens=2500, output_tokens=600
        ),
        finish_reasons=("end_turn",),
    )


def test_converse_service_tier_from_request_and_response() -> None:
    flex = request("Converse", "amazon.nova-pro-v1:0", serviceTier={"type": "flex"})
    assert flex.facts.service_tier == "flex"
    parsed = flex.parse_response(
        {"usage": {"inputTokens": 1, "outputTokens": 1}, "serviceTier": {"type": "priority"}}, None
    )
    assert parsed.usage.service_tier == "priority"


def test_invoke_anthropic_messages_body() -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 512, "messages": []}
    parsed = invoke(f"us.{HAIKU_35}", body, fixture("bedrock_anthropic_message.json"))

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="aws.bedrock",
            request_model=f"us.{HAIKU_35}",
            input_tokens=8502,  # 310 + 6144 cache read + 2048 cache write
            cache_read_tokens=6144,
            cache_write_tokens=2048,
            output_tokens=180,
        ),
        response_id="msg_bdrk_01Lz7xXLV4ZpkAUqFYuqGGPr",
        finish_reasons=("end_turn",),
    )


def test_invoke_anthropic_unread_body_falls_back_to_headers() -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "messages": []}
    parsed = request("InvokeModel", HAIKU_35, body).parse_response(
        {"ResponseMetadata": {"HTTPHeaders": bedrock_headers(310, 180, 6144, 2048)}}, None
    )
    assert parsed.usage_found
    assert (parsed.usage.input_tokens, parsed.usage.cache_read_tokens, parsed.usage.output_tokens) == (8502, 6144, 180)


@pytest.mark.parametrize(
    ("model", "body", "response", "operation", "expected"),
    [
        (
            "amazon.nova-lite-v1:0",
            {"schemaVersion": "messages-v1", "messages": [], "inferenceConfig": {"maxTokens": 400}},
            "bedrock_nova_invoke.json",
            "chat",
            (1200, 350, None, "end_turn"),
        ),
        (
            "meta.llama3-1-8b-instruct-v1:0",
            {"prompt": "<|begin_of_text|>...", "max_gen_len": 512},
            "bedrock_llama.json",
            "text_completion",
            (2000, 500, None, "stop"),
        ),
        (
            "amazon.titan-text-express-v1",
            {"inputText": "Summarize:", "textGenerationConfig": {"maxTokenCount": 512}},
            "bedrock_titan_text.json",
            "text_completion",
            (800, 240, None, "FINISH"),
        ),
        (
            "amazon.titan-embed-text-v2:0",
            {"inputText": "hello", "dimensions": 4, "normalize": True},
            "bedrock_titan_embed.json",
            "embeddings",
            (5000, 0, None, None),
        ),
        (
            "cohere.command-r-v1:0",
            {"message": "What is the answer?", "chat_history": []},
            "bedrock_cohere_command_r.json",
            "chat",
            (700, 90, "c1a3c6f4-9d0e-4a8c-8b0f-3f5b2f1c7d11", "COMPLETE"),
        ),
    ],
    ids=["nova", "llama", "titan-text", "titan-embed", "cohere-command-r"],
)
def test_invoke_bodies_that_report_usage(
    model: str, body: dict[str, Any], response: str, operation: str, expected: tuple[Any, ...]
) -> None:
    # Headers that disagree with the body: the body's own counts win.
    parsed = invoke(model, body, fixture(response), bedrock_headers(1, 1))

    usage = parsed.usage
    assert parsed.usage_found
    assert usage.operation == operation
    finish = parsed.finish_reasons[0] if parsed.finish_reasons else None
    assert (usage.input_tokens, usage.output_tokens, parsed.response_id, finish) == expected


@pytest.mark.parametrize(
    ("model", "body", "response", "operation"),
    [
        (
            "cohere.embed-english-v3",
            {"texts": ["hello world"], "input_type": "search_document"},
            "bedrock_cohere_embed.json",
            "embeddings",
        ),
        (
            "mistral.mistral-7b-instruct-v0:2",
            {"prompt": "<s>[INST] Hi [/INST]", "max_tokens": 200},
            "bedrock_mistral.json",
            "text_completion",
        ),
    ],
    ids=["cohere-embed", "mistral"],
)
def test_invoke_bodies_without_usage_use_bedrock_headers(
    model: str, body: dict[str, Any], response: str, operation: str
) -> None:
    parsed = invoke(model, body, fixture(response), bedrock_headers(42, 7))
    assert parsed.usage_found
    assert (parsed.usage.operation, parsed.usage.input_tokens, parsed.usage.output_tokens) == (operation, 42, 7)


def test_invoke_without_any_counts_is_no_usage() -> None:
    parsed = invoke("mistral.mistral-7b-instruct-v0:2", {"prompt": "x"}, fixture("bedrock_mistral.json"))
    assert not parsed.usage_found
    assert parsed.finish_reasons == ("stop",)


def test_invoke_stream_anthropic_chunks() -> None:
    model = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    stream = request(
        "InvokeModelWithResponseStream", model, {"anthropic_version": "bedrock-2023-05-31", "messages": []}
    )
    parser = stream.stream_parser()
    for line in fixture("bedrock_anthropic_stream.jsonl").splitlines():
        parser.feed({"chunk": {"bytes": line}})

    assert parser.finish() == ParsedResponse(
        usage=Usage(provider="aws.bedrock", request_model=model, input_tokens=1500, output_tokens=300),
        response_id="msg_bdrk_01SxTpWw2VZB1b9pQ8rHgHxm",
        finish_reasons=("end_turn",),
    )


def test_invoke_stream_other_vendor_uses_invocation_metrics() -> None:
    stream = request("InvokeModelWithResponseStream", "mistral.mistral-7b-instruct-v0:2", {"prompt": "x"})
    parser = stream.stream_parser()
    parser.feed({"chunk": {"bytes": b'{"outputs": [{"text": "Bon", "stop_reason": null}]}'}})
    last = {
        "outputs": [{"text": "jour", "stop_reason": "stop"}],
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 12, "outputTokenCount": 34, "invocationLatency": 300},
    }
    parser.feed({"chunk": {"bytes": json.dumps(last).encode()}})
    parsed = parser.finish()
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens, parsed.finish_reasons) == (12, 34, ("stop",))


def test_invoke_stream_llama_chunks_report_their_own_counts() -> None:
    stream = request("InvokeModelWithResponseStream", "meta.llama3-70b-instruct-v1:0", {"prompt": "x"})
    parser = stream.stream_parser()
    first = {"generation": "Hi", "prompt_token_count": 18, "generation_token_count": 1, "stop_reason": None}
    last = {"generation": "!", "prompt_token_count": None, "generation_token_count": 2, "stop_reason": "stop"}
    for chunk in (first, last):
        parser.feed({"chunk": {"bytes": json.dumps(chunk).encode()}})
    parsed = parser.finish()
    assert (parsed.usage.operation, parsed.usage.input_tokens, parsed.usage.output_tokens) == ("text_completion", 18, 2)


@pytest.mark.parametrize(
    ("model", "body", "operation", "count", "size", "quality"),
    [
        (
            "amazon.titan-image-generator-v2:0",
            {
                "taskType": "TEXT_IMAGE",
                "textToImageParams": {"text": "a lighthouse"},
                "imageGenerationConfig": {"numberOfImages": 3, "width": 1024, "height": 1024, "quality": "premium"},
            },
            "image_generation",
            3,
            "1024x1024",
            "premium",
        ),
        (
            "amazon.nova-canvas-v1:0",
            {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a lighthouse"}},
            "image_generation",
            1,
            "1024x1024",
            "standard",
        ),
        (
            "amazon.nova-canvas-v1:0",
            {"taskType": "INPAINTING", "inPaintingParams": {"image": "...", "maskPrompt": "sky"}},
            "image_edit",
            1,
            None,
            "standard",
        ),
        (
            "stability.stable-image-ultra-v1:1",
            {"prompt": "a lighthouse", "aspect_ratio": "16:9", "output_format": "png"},
            "image_generation",
            1,
            None,
            None,
        ),
    ],
    ids=["titan-v2", "nova-canvas-defaults", "nova-canvas-inpainting", "stability-ultra"],
)
def test_image_requests(
    model: str, body: dict[str, Any], operation: str, count: int, size: str | None, quality: str | None
) -> None:
    image = request("InvokeModel", model, body)
    facts = image.facts
    assert not image.reads_body
    assert (facts.operation, facts.image_count, facts.image_size, facts.image_quality) == (
        operation,
        count,
        size,
        quality,
    )
    parsed = image.parse_response({"ResponseMetadata": {"HTTPHeaders": {}}}, None)
    assert not parsed.usage_found and parsed.usage.image_count == count


def test_not_billable_operations() -> None:
    assert parse_request("CountTokens", {"modelId": HAIKU_35}) is None
    assert parse_request("ApplyGuardrail", {"guardrailIdentifier": "g"}) is None


def test_provisioned_and_application_profile_arns_are_deployments() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123xyz"
    assert request("Converse", arn).facts.deployment == arn
    profile = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert request("Converse", profile).facts.deployment is None


def test_file_like_request_body_is_left_unread() -> None:
    class Body:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the caller's stream must not be read")

    parsed = parse_request("InvokeModel", {"modelId": "amazon.titan-embed-text-v2:0", "body": Body()})
    assert parsed is not None and parsed.facts.operation == "embeddings"


# Prices (USD per 1M tokens, Bedrock on-demand list prices): Claude 3.5 Haiku 0.80 in, 4.00 out,
# 0.08 cache read, 1.00 cache write; Claude Sonnet 4.5 global 3.00 / 15.00, regional (us., eu., ...)
# 3.30 / 16.50; Nova Lite 0.06 / 0.24.
@pytest.mark.parametrize(
    ("model", "expected_usd"),
    [
        # 310 x 0.80 + 6144 x 0.08 + 2048 x 1.00 + 180 x 4.00 = 248 + 491.52 + 2048 + 720 = 3507.52 per 1M
        (HAIKU_35, 0.00350752),
        (f"us.{HAIKU_35}", 0.00350752),
        (f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU_35}", 0.00350752),
    ],
    ids=["plain", "us-profile", "profile-arn"],
)
def test_anthropic_body_priced_by_its_bedrock_model_id(model: str, expected_usd: float) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "messages": []}
    parsed = invoke(model, body, fixture("bedrock_anthropic_message.json"))
    cost = PriceEngine().price(parsed.usage)
    assert cost.priced
    assert cost.total_usd == pytest.approx(expected_usd, rel=1e-9)


@pytest.mark.parametrize(
    ("model", "expected_usd"),
    [
        # 1000 in x 3.00 + 200 out x 15.00 = 3000 + 3000 = 6000 per 1M
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", 0.006),
        # 1000 in x 3.30 + 200 out x 16.50 = 3300 + 3300 = 6600 per 1M
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 0.0066),
        ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", 0.0066),
        # 1000 x 0.06 + 200 x 0.24 = 60 + 48 = 108 per 1M
        ("apac.amazon.nova-lite-v1:0", 0.000108),
    ],
)
def test_cross_region_profiles_priced(model: str, expected_usd: float) -> None:
    parsed = request("Converse", model).parse_response({"usage": {"inputTokens": 1000, "outputTokens": 200}}, None)
    cost = PriceEngine().price(parsed.usage)
    assert cost.total_usd == pytest.approx(expected_usd, rel=1e-9)


KEYS = st.sampled_from(
    [
        "usage",
        "inputTokens",
        "outputTokens",
        "cacheReadInputTokens",
        "cacheWriteInputTokens",
        "cacheDetails",
        "prompt_tokens",
        "results",
        "meta",
        "billed_units",
        "prompt_token_count",
        "generation_token_count",
        "stop_reason",
        "outputs",
        "metadata",
        "amazon-bedrock-invocationMetrics",
        "inputTextTokenCount",
        "choices",
        "type",
        "message",
    ]
)
BODIES = st.recursive(
    st.dictionaries(KEYS, json_values, max_size=5), lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=8
)
FAMILIES = [
    ("meta.llama3-70b-instruct-v1:0", {"prompt": "x"}),
    (HAIKU_35, {"anthropic_version": "bedrock-2023-05-31", "messages": []}),
    ("amazon.nova-lite-v1:0", {"messages": []}),
]


def all_readings(body: dict[str, Any] | list[Any] | None, raw: bytes) -> list[ParsedResponse]:
    """Every way the parser can meet `body` (and the bytes `raw`): whole, as stream events and chunks."""
    encoded = json.dumps(body).encode()
    parsed = []
    for model, request_body in FAMILIES:
        for response in (encoded, raw):
            parsed.append(invoke(model, request_body, response, {"x-amzn-bedrock-input-token-count": "-3"}))
        for operation in ("ConverseStream", "InvokeModelWithResponseStream"):
            parser = request(operation, model, request_body).stream_parser()
            for event in (body, {"chunk": {"bytes": encoded}}, {"chunk": {"bytes": raw}}, {"chunk": body}):
                parser.feed(event if isinstance(event, dict) else {})
            parsed.append(parser.finish())
        parsed.append(request("Converse", model).parse_response(body if isinstance(body, dict) else {}, None))
    return parsed


@pytest.mark.parametrize("raw", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_malformed_bodies_never_raise(raw: bytes) -> None:
    for parsed in all_readings(None, raw):
        sane(parsed)


@settings(max_examples=150, deadline=None)
@given(body=BODIES, raw=st.binary(max_size=64))
def test_hostile_bodies_never_raise_nor_count_wrong(body: dict[str, Any], raw: bytes) -> None:
    for parsed in all_readings(body, raw):
        sane(parsed)


def test_provisioned_throughput_arn_priced_through_overrides_deployments(tmp_path: Any) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123xyz"
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "deployments:\n"
        f"  - {{provider: aws.bedrock, deployment: '{arn}', model: amazon.nova-lite-v1:0, provisioned: true}}\n"
    )
    parsed = request("Converse", arn).parse_response({"usage": {"inputTokens": 1000, "outputTokens": 200}}, None)
    cost = PriceEngine(prices).price(parsed.usage)
    assert cost.priced and cost.total_usd == 0.0
    # at Nova Lite's pay-as-you-go list price: 1000 x 0.06 + 200 x 0.24 = 108 per 1M
    assert cost.list_usd == pytest.approx(0.000108, rel=1e-9)
