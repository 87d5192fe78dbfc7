"""The Gemini wire protocol (Gemini API and Vertex AI) on response shapes from Google's API
reference (fixtures/gemini_*), exact token counts.

promptTokenCount includes cachedContentTokenCount; thinking (thoughtsTokenCount) is output;
toolUsePromptTokenCount is input.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_malformed_bodies import BAD_BODIES as COMMON_BAD_BODIES
from test_malformed_bodies import sane
from wire_testkit import assert_every_chunking, chunkings, facts_for, fixture, parse_stream

from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.providers.gemini import GeminiProtocol, model_and_method
from otel_ai_cost.providers.openai import OpenAIProtocol
from otel_ai_cost.providers.routing import parse_endpoint_map, route
from otel_ai_cost.usage import Usage

GEMINI = GeminiProtocol()
VERTEX = GeminiProtocol("gcp.vertex_ai")
API_HOST = "generativelanguage.googleapis.com"
VERTEX_HOST = "us-central1-aiplatform.googleapis.com"
VERTEX_PREFIX = "/v1/projects/acme-prod/locations/us-central1/publishers/google/models"


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        (API_HOST, "/v1beta/models/gemini-2.5-flash:generateContent", ("gcp.gemini", "generate_content")),
        (API_HOST, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", ("gcp.gemini", "generate_content")),
        (API_HOST, "/v1beta/models/gemini-embedding-001:batchEmbedContents", ("gcp.gemini", "embeddings")),
        (API_HOST, "/v1beta/models/imagen-4.0-generate-001:predict", ("gcp.gemini", "image_generation")),
        (API_HOST, "/v1beta/models/gemini-2.5-flash:countTokens", None),
        (API_HOST, "/v1beta/models/gemini-2.5-flash:batchGenerateContent", None),
        (API_HOST, "/v1beta/cachedContents", None),
        (API_HOST, "/upload/v1beta/files?uploadType=resumable", None),
        (VERTEX_HOST, f"{VERTEX_PREFIX}/gemini-2.5-pro:generateContent", ("gcp.vertex_ai", "generate_content")),
        (
            "aiplatform.googleapis.com",
            "/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
            ("gcp.vertex_ai", "generate_content"),
        ),
        (
            "europe-west4-aiplatform.googleapis.com",
            "/v1/publishers/google/models/gemini-2.0-flash:generateContent",
            ("gcp.vertex_ai", "generate_content"),
        ),
        (VERTEX_HOST, f"{VERTEX_PREFIX}/text-embedding-005:predict", ("gcp.vertex_ai", "embeddings")),
        (VERTEX_HOST, f"{VERTEX_PREFIX}/imagen-3.0-generate-002:predict", ("gcp.vertex_ai", "image_generation")),
        (VERTEX_HOST, f"{VERTEX_PREFIX}/veo-3.0-generate-001:predictLongRunning", None),
        (VERTEX_HOST, f"{VERTEX_PREFIX}/gemini-2.5-pro:countTokens", None),
        (VERTEX_HOST, f"{VERTEX_PREFIX}/gemini-2.5-pro:computeTokens", None),
        ("notaiplatform.googleapis.com", f"{VERTEX_PREFIX}/gemini-2.5-pro:generateContent", None),
        ("generativelanguage.googleapis.com.evil.example", "/v1beta/models/gemini-2.5-flash:generateContent", None),
    ],
)
def test_routes_and_operations(host: str, path: str, expected: tuple[str, str] | None) -> None:
    protocol = route(host, path)
    assert isinstance(protocol, GeminiProtocol) or protocol is None
    facts = protocol.parse_request("POST", host, path, "application/json", b"{}") if protocol else None
    assert (None if facts is None else (facts.provider, facts.operation)) == expected


def test_openai_compatible_paths_go_to_the_openai_parser_with_google_provider_names() -> None:
    gemini = route(API_HOST, "/v1beta/openai/chat/completions")
    vertex = route(VERTEX_HOST, "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions")
    assert isinstance(gemini, OpenAIProtocol) and gemini.provider == "gcp.gemini"
    assert isinstance(vertex, OpenAIProtocol) and vertex.provider == "gcp.vertex_ai"


def test_endpoint_map_protocol_gemini() -> None:
    """A gateway in front of Gemini or Vertex AI, declared in OTEL_AI_COST_ENDPOINTS."""
    endpoints = parse_endpoint_map("https://llm-gw.corp/google=gemini:gcp.vertex_ai,http://127.0.0.1:9000=gemini")
    behind_gateway = route("llm-gw.corp", "/google/v1beta/models/gemini-2.5-flash:generateContent", endpoints)
    local = route("127.0.0.1", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", endpoints, port=9000)
    assert isinstance(behind_gateway, GeminiProtocol) and behind_gateway.provider == "gcp.vertex_ai"
    assert isinstance(local, GeminiProtocol) and local.provider == "gcp.gemini"


def test_a_get_is_not_billable() -> None:
    assert GEMINI.parse_request("GET", API_HOST, "/v1beta/models/gemini-2.5-flash", None, b"") is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1beta/models/gemini-2.5-pro:generateContent", ("gemini-2.5-pro", "generateContent")),
        ("/v1beta/models/gemini-2.5-pro%3AstreamGenerateContent?alt=sse", ("gemini-2.5-pro", "streamGenerateContent")),
        ("/v1beta/tunedModels/sentiment-x1:generateContent", ("tunedModels/sentiment-x1", "generateContent")),
        (f"{VERTEX_PREFIX}/gemini-2.0-flash-001:generateContent", ("gemini-2.0-flash-001", "generateContent")),
        ("/v1/projects/p/locations/l/endpoints/4242:generateContent", ("endpoints/4242", "generateContent")),
        ("/v1beta/models/gemini-2.5-pro", None),
        ("/v1beta/models/:generateContent", (None, "generateContent")),
        (":generateContent", (None, "generateContent")),
        ("", None),
    ],
)
def test_model_and_method_from_the_path(path: str, expected: tuple[str | None, str] | None) -> None:
    assert model_and_method(path) == expected


def generate_facts(protocol: GeminiProtocol, path: str, host: str = API_HOST) -> RequestFacts:
    return facts_for(protocol, path, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, host=host)


def test_thinking_and_cached_content() -> None:
    facts = generate_facts(GEMINI, "/v1beta/models/gemini-2.5-pro:generateContent")
    assert (facts.request_model, facts.stream) == ("gemini-2.5-pro", False)

    parsed = GEMINI.parse_response(facts, fixture("gemini_generate_thinking_cached.json"))

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="gcp.gemini",
            operation="generate_content",
            request_model="gemini-2.5-pro",
            response_model="gemini-2.5-pro",
            input_tokens=12840,  # promptTokenCount, which includes the 10240 cached
            cache_read_tokens=10240,
            output_tokens=1690,  # 412 candidates + 1278 thoughts
            reasoning_tokens=1278,
        ),
        response_id="mJ8zaM2bE5OMz7IPkquW8QM",
        finish_reasons=("STOP",),
    )


def test_vertex_audio_input_and_two_candidates() -> None:
    facts = generate_facts(VERTEX, f"{VERTEX_PREFIX}/gemini-2.0-flash-001:generateContent", VERTEX_HOST)

    parsed = VERTEX.parse_response(facts, fixture("gemini_vertex_audio.json"))

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="gcp.vertex_ai",
            operation="generate_content",
            request_model="gemini-2.0-flash-001",
            response_model="gemini-2.0-flash-001",
            input_tokens=3296,
            input_audio_tokens=3200,
            output_tokens=170,
        ),
        response_id="A9PLaIHCH4Hq2fMPt6jMmAg",
        finish_reasons=("STOP", "MAX_TOKENS"),  # candidate 0 has no "index" (proto3 default)
    )


def test_cached_audio_is_not_billed_as_uncached_audio() -> None:
    facts = generate_facts(GEMINI, "/v1beta/models/gemini-2.5-flash:generateContent")
    body = {
        "usageMetadata": {
            "promptTokenCount": 5000,
            "cachedContentTokenCount": 4000,
            "candidatesTokenCount": 10,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 1000},
                {"modality": "AUDIO", "tokenCount": 4000},
            ],
            "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 3500}, {"modality": "TEXT", "tokenCount": 500}],
        }
    }
    usage = GEMINI.parse_response(facts, json.dumps(body).encode()).usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.input_audio_tokens) == (5000, 4000, 500)
    assert usage.cache_read_audio_tokens == 3500


def test_image_and_video_input_not_served_from_the_cache_and_video_output() -> None:
    facts = generate_facts(GEMINI, "/v1beta/models/gemini-omni-1.1-flash:generateContent")
    body = {
        "usageMetadata": {
            "promptTokenCount": 6000,
            "cachedContentTokenCount": 1300,
            "candidatesTokenCount": 20000,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 200},
                {"modality": "IMAGE", "tokenCount": 800},
                {"modality": "VIDEO", "tokenCount": 5000},
            ],
            "cacheTokensDetails": [{"modality": "IMAGE", "tokenCount": 300}, {"modality": "VIDEO", "tokenCount": 1000}],
            "candidatesTokensDetails": [
                {"modality": "VIDEO", "tokenCount": 19950},
                {"modality": "TEXT", "tokenCount": 50},
            ],
        }
    }
    usage = GEMINI.parse_response(facts, json.dumps(body).encode()).usage
    assert (usage.input_tokens, usage.cache_read_tokens) == (6000, 1300)
    assert (usage.input_image_tokens, usage.input_video_tokens) == (800 - 300, 5000 - 1000)
    assert (usage.output_tokens, usage.output_video_tokens) == (20000, 19950)


@pytest.mark.parametrize(
    ("model", "billed"),
    [
        ("gemini-2.5-flash", 1),  # per grounded prompt
        ("gemini-2.0-flash-001", 1),
        ("gemini-1.5-pro-002", 1),
        ("gemini-live-2.5-flash-preview", 1),
        ("gemini-3-pro-preview", 3),  # per search query
        ("gemini-3.1-flash-lite", 3),
    ],
)
def test_grounding_is_counted_as_the_model_generation_bills_it(model: str, billed: int) -> None:
    facts = generate_facts(GEMINI, f"/v1beta/models/{model}:generateContent")
    grounded = {"webSearchQueries": ["a", "b", "c"], "groundingChunks": []}
    body = {
        "candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP", "groundingMetadata": grounded}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5},
        "modelVersion": model,
    }
    assert GEMINI.parse_response(facts, json.dumps(body).encode()).usage.web_search_requests == billed


def test_image_output_tokens() -> None:
    facts = generate_facts(GEMINI, "/v1beta/models/gemini-2.5-flash-image:generateContent")

    usage = GEMINI.parse_response(facts, fixture("gemini_image_output.json")).usage

    assert (usage.input_tokens, usage.output_tokens, usage.output_image_tokens) == (14, 1299, 1290)
    assert usage.image_count == 0  # billed as tokens, not per image


def test_sse_stream_takes_the_last_cumulative_usage() -> None:
    facts = generate_facts(GEMINI, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert facts.stream and facts.stream_usage_requested
    stream = fixture("gemini_stream.sse")

    parsed = parse_stream(GEMINI.stream_parser(facts), [stream])

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="gcp.gemini",
            operation="generate_content",
            request_model="gemini-2.5-flash",
            response_model="gemini-2.5-flash",
            input_tokens=2270,  # 1850 prompt + 420 tool use (Google Search results)
            output_tokens=574,  # 264 candidates + 310 thoughts
            reasoning_tokens=310,
            web_search_requests=1,  # grounded with Google Search: Gemini 2.x bills one per prompt
        ),
        response_id="yKbMaKeXA7_Oz7IPs_Sm8Qk",
        finish_reasons=("STOP",),
    )
    assert_every_chunking(GEMINI, facts, stream, parsed)
    assert GEMINI.parse_response(facts, stream) == parsed  # an SSE body read whole


def test_json_array_stream() -> None:
    """`streamGenerateContent` without alt=sse: one JSON array whose objects arrive one by one."""
    path = f"{VERTEX_PREFIX}/gemini-2.0-flash-lite-001:streamGenerateContent"
    facts = generate_facts(VERTEX, path, VERTEX_HOST)
    body = fixture("gemini_stream_array.json")

    parsed = VERTEX.parse_response(facts, body)

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="gcp.vertex_ai",
            operation="generate_content",
            request_model="gemini-2.0-flash-lite-001",
            response_model="gemini-2.0-flash-lite-001",
            input_tokens=9,
            output_tokens=12,
        ),
        response_id="U9fLaKyqDN2V2fMP4pWV4Ag",
        finish_reasons=("STOP",),
    )
    # Buffered by the transport and cut off at any byte: what the whole objects say, never an error.
    final = body.rindex(b'"usageMetadata": {\n    "promptTokenCount": 9,\n    "candidatesTokenCount"')
    for offset in range(len(body)):
        cut = VERTEX.parse_response(facts, body[:offset])
        if offset < final:
            assert cut.usage.output_tokens == 0, offset
        elif offset >= len(body) - 2:  # only the closing "\n]" missing
            assert cut == parsed, offset


def test_imagen_counts_the_images_returned_not_the_filtered_ones() -> None:
    path = "/v1beta/models/imagen-4.0-generate-001:predict"
    request = {"instances": [{"prompt": "a lighthouse"}], "parameters": {"sampleCount": 3, "aspectRatio": "16:9"}}
    facts = facts_for(GEMINI, path, request, host=API_HOST)
    assert (facts.operation, facts.request_model, facts.image_count) == (
        "image_generation",
        "imagen-4.0-generate-001",
        3,
    )

    parsed = GEMINI.parse_response(facts, fixture("gemini_imagen_predict.json"))

    assert parsed.usage == Usage(
        provider="gcp.gemini", operation="image_generation", request_model="imagen-4.0-generate-001", image_count=2
    )
    assert parsed.usage_found
    # An unreadable response: the request's count stands.
    assert GEMINI.parse_response(facts, b"<html>").usage.image_count == 3


@pytest.mark.parametrize(
    ("request_body", "operation", "count"),
    [
        ({"instances": [{"prompt": "x"}]}, "image_generation", 4),  # the API's default sampleCount
        ({"instances": [{"prompt": "x"}], "sampleCount": 2}, "image_generation", 2),
        ({"instances": [{"prompt": "x"}], "parameters": {"sampleCount": "bad"}}, "image_generation", 4),
        (
            {
                "instances": [{"prompt": "x"}],
                "parameters": {"sampleCount": 1, "editMode": "EDIT_MODE_INPAINT_INSERTION"},
            },
            "image_edit",
            1,
        ),
        (
            {
                "instances": [{"prompt": "x"}],
                "parameters": {"mode": "upscale", "upscaleConfig": {"upscaleFactor": "x2"}},
            },
            "image_edit",
            4,
        ),
    ],
)
def test_imagen_request(request_body: dict[str, object], operation: str, count: int) -> None:
    facts = facts_for(VERTEX, f"{VERTEX_PREFIX}/imagen-3.0-capability-001:predict", request_body, host=VERTEX_HOST)
    assert (facts.operation, facts.image_count) == (operation, count)


def test_vertex_embeddings() -> None:
    predict = facts_for(VERTEX, f"{VERTEX_PREFIX}/text-embedding-005:predict", {"instances": []}, host=VERTEX_HOST)
    parsed = VERTEX.parse_response(predict, fixture("gemini_vertex_embed_predict.json"))
    assert (parsed.usage.operation, parsed.usage.input_tokens, parsed.usage_found) == ("embeddings", 17, True)  # 6 + 11

    embed = facts_for(VERTEX, f"{VERTEX_PREFIX}/gemini-embedding-001:embedContent", {}, host=VERTEX_HOST)
    body = {"embedding": {"values": [0.1, -0.2]}, "usageMetadata": {"promptTokenCount": 8}, "truncated": False}
    assert VERTEX.parse_response(embed, json.dumps(body).encode()).usage.input_tokens == 8

    batch = facts_for(VERTEX, f"{VERTEX_PREFIX}/gemini-embedding-001:batchEmbedContents", {}, host=VERTEX_HOST)
    body = {"embeddings": [{"values": [0.1], "statistics": {"tokenCount": 5}}, {"values": [0.2], "statistics": {}}]}
    assert VERTEX.parse_response(batch, json.dumps(body).encode()).usage.input_tokens == 5


def test_gemini_api_embeddings_report_no_usage() -> None:
    facts = facts_for(GEMINI, "/v1beta/models/gemini-embedding-001:batchEmbedContents", {}, host=API_HOST)
    parsed = GEMINI.parse_response(facts, b'{"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}')
    assert not parsed.usage_found
    assert parsed.usage.request_model == "gemini-embedding-001"


BAD_BODIES = [
    *COMMON_BAD_BODIES,
    b'[1, null, "x", {}]',
    b'[{"usageMetadata": {"promptTokenCount": 5}},',
    b'[{"usageMetadata": {"promptTokenCount": 5}}, {"a":',
    b"[" + b'{"a":' * 50_000,
    b'data: {"usageMetadata": 5}\n\n',
    b'data: {"usageMetadata": {"promptTokenCount": -5, "candidatesTokenCount": 1e30}}\n\n',
    b'{"usageMetadata": "lots", "candidates": "x", "predictions": 3, "embeddings": {}}',
    b'{"usageMetadata": {"promptTokenCount": true, "thoughtsTokenCount": "9",'
    b' "promptTokensDetails": [1, {"modality": 2}]}}',
    b'{"candidates": [null, 5, {"finishReason": 7}, {"finishReason": "STOP", "index": -1}, {"index": 99999}]}',
    b'{"predictions": [null, 1, {"embeddings": "x"}, {"embeddings": {"statistics": [1]}}]}',
    b'{"embeddings": [null, {"statistics": {"tokenCount": -1}}]}',
    b'{"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}',
]
BAD_PATHS = [
    "/v1beta/models/gemini-2.5-flash:generateContent",
    "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    "/v1beta/models/gemini-embedding-001:embedContent",
    f"{VERTEX_PREFIX}/text-embedding-005:predict",
    f"{VERTEX_PREFIX}/imagen-4.0-generate-001:predict",
]


@pytest.mark.parametrize("path", BAD_PATHS)
@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_malformed_bodies_never_raise(path: str, body: bytes) -> None:
    facts = VERTEX.parse_request("POST", VERTEX_HOST, path, "application/json", body)
    assert facts is not None
    sane(VERTEX.parse_response(facts, body))
    sane(parse_stream(VERTEX.stream_parser(facts), [body]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(BAD_PATHS))
def test_random_bytes_never_raise(body: bytes, path: str) -> None:
    facts = GEMINI.parse_request("POST", API_HOST, path, None, body)
    assert facts is not None
    sane(GEMINI.parse_response(facts, body))
    for chunks in list(chunkings(body))[:3]:
        sane(parse_stream(GEMINI.stream_parser(facts), chunks))


IMAGE_MODEL = "gemini-3-pro-image-preview"
IMAGE_BASE64 = base64.b64encode(bytes(range(256)) * 4096).decode()  # 1 MiB of bytes, ~1.4 MB of base64
IMAGE_USAGE = {
    "promptTokenCount": 20,
    "candidatesTokenCount": 1300,
    "totalTokenCount": 1320,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 20}],
    "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}, {"modality": "TEXT", "tokenCount": 10}],
}
IMAGE_CHUNKS = [
    {
        "candidates": [{"content": {"parts": [{"text": "Here is your cat."}], "role": "model"}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 20, "totalTokenCount": 20},
        "modelVersion": IMAGE_MODEL,
        "responseId": "r-img",
    },
    {
        "candidates": [
            {
                "content": {
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": IMAGE_BASE64}}],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
                "groundingMetadata": {"webSearchQueries": ["cat breeds", "tabby cat"]},
            }
        ],
        "usageMetadata": IMAGE_USAGE,
        "modelVersion": IMAGE_MODEL,
        "responseId": "r-img",
    },
]


def test_a_chunk_over_the_event_cap_is_read_from_its_head_and_tail() -> None:
    """An image's base64 makes its chunk larger than the SSE reader keeps whole (1 MiB); the usage,
    finish reason, grounding, model and id that chunk carries after the image are still read."""
    facts = generate_facts(GEMINI, f"/v1beta/models/{IMAGE_MODEL}:streamGenerateContent?alt=sse")
    stream = b"".join(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n" for chunk in IMAGE_CHUNKS)
    assert len(stream) > 1 << 20

    parsed = parse_stream(GEMINI.stream_parser(facts), [stream])

    expected = ParsedResponse(
        usage=Usage(
            provider="gcp.gemini",
            operation="generate_content",
            request_model=IMAGE_MODEL,
            response_model=IMAGE_MODEL,
            input_tokens=20,
            output_tokens=1300,
            output_image_tokens=1290,
            web_search_requests=2,  # Gemini 3 bills each search query
        ),
        response_id="r-img",
        finish_reasons=("STOP",),
    )
    assert parsed == expected
    assert parsed.content_events == 2
    for size in (13_000, 65_536):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        assert parse_stream(GEMINI.stream_parser(facts), chunks) == expected, size
    assert GEMINI.parse_response(facts, stream) == expected  # an SSE body read whole
    # without alt=sse, one JSON array read whole: no cap on an item
    assert GEMINI.parse_response(facts, json.dumps(IMAGE_CHUNKS).encode()) == expected


def test_a_cut_off_chunk_over_the_cap_with_the_index_of_its_finish_reasons() -> None:
    facts = generate_facts(GEMINI, f"/v1beta/models/{IMAGE_MODEL}:streamGenerateContent?alt=sse")
    image = {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": IMAGE_BASE64}}]}}
    text = {"content": {"parts": [{"text": "Only one image."}]}}
    chunk = {
        "candidates": [
            {**text, "finishReason": "STOP", "index": 1},
            {**image, "finishReason": "MAX_TOKENS", "index": 0},
        ],
        "usageMetadata": IMAGE_USAGE,
    }
    parsed = parse_stream(GEMINI.stream_parser(facts), [b"data: " + json.dumps(chunk).encode() + b"\n\n"])
    assert parsed.finish_reasons == ("MAX_TOKENS", "STOP")  # in the order of their index
    assert (parsed.usage.output_tokens, parsed.usage.output_image_tokens) == (1300, 1290)
    assert (parsed.usage.response_model, parsed.response_id) == (None, None)
    # the stream cut off in the image: what the head says, no usage
    cut = parse_stream(GEMINI.stream_parser(facts), [b"data: " + json.dumps(chunk).encode()[:1_200_000]])
    assert (cut.usage_found, cut.finish_reasons) == (False, ("STOP",))


ERROR_CHUNK = b'data: {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}\r\n\r\n'


@pytest.mark.parametrize(
    ("error", "error_type"),
    [
        (ERROR_CHUNK, "UNAVAILABLE"),
        (b'data: {"error": {"code": 500, "message": "Internal error encountered."}}\n\n', "500"),
        (b'data: {"error": "overloaded"}\n\n', "stream_error"),
    ],
    ids=["status", "code", "no_object"],
)
def test_an_error_chunk_fails_the_stream_with_the_usage_read_before_it(error: bytes, error_type: str) -> None:
    facts = generate_facts(GEMINI, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    stream = fixture("gemini_stream.sse")
    head = stream[: stream.index(b'"finishReason"')]
    head = head[: head.rindex(b"\n\n") + 2]  # the chunks before the last one, which carries the finish reason

    parsed = parse_stream(GEMINI.stream_parser(facts), [head + error])

    assert parsed.error_type == error_type
    assert parsed.usage_found and parsed.usage.input_tokens > 0
    assert parsed.finish_reasons == ()
    assert GEMINI.parse_response(facts, head + error).error_type == error_type
    assert parse_stream(GEMINI.stream_parser(facts), [stream]).error_type is None


def test_an_error_item_fails_a_json_array_stream() -> None:
    path = f"{VERTEX_PREFIX}/gemini-2.0-flash-lite-001:streamGenerateContent"
    facts = generate_facts(VERTEX, path, VERTEX_HOST)
    items = json.loads(fixture("gemini_stream_array.json"))
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}

    parsed = VERTEX.parse_response(facts, json.dumps([*items, error]).encode())

    assert (parsed.error_type, parsed.usage.input_tokens, parsed.usage.output_tokens) == ("UNAVAILABLE", 9, 12)
    assert VERTEX.parse_response(facts, json.dumps(items).encode()).error_type is None
