"""The real google-genai SDK (on httpx2) through MockTransport: the Gemini API and Vertex AI.

Published prices (USD per 1M tokens, Gemini API / Vertex AI standard):
- gemini-2.5-flash: input 0.30, output (thinking included) 2.50, cached input 0.03
- gemini-2.5-pro: input 1.25, output 10; above 200k input tokens input 2.50, output 15, cached 0.25
- gemini-2.0-flash: input 0.10, output 0.40
- gemini-embedding-001: input 0.15
- gemini-3-flash-preview: input 0.50, output 3.00
Grounding with Google Search: $35 per 1,000 grounded prompts (Gemini 2.x), $14 per 1,000 search
queries (Gemini 3).
Imagen (USD per image): imagen-4.0-generate-001 0.04, imagen-3.0-generate-002 0.04 on Vertex AI.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import openai
import pytest
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

from otel_ai_cost import tags

if TYPE_CHECKING:
    from .conftest import Telemetry

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def generate_response(model: str, usage: dict[str, Any], text: str = "Done.") -> dict[str, Any]:
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "mJ8zaM2bE5OMz7IPkquW8QM",
    }


THINKING_USAGE = {
    "promptTokenCount": 1000,
    "candidatesTokenCount": 200,
    "thoughtsTokenCount": 300,
    "totalTokenCount": 1500,
}
# 1000 in x $0.30/1M + (200 + 300 thinking) out x $2.50/1M = 300 + 1250 = 1550 per 1M
THINKING_COST = 0.00155

CACHED_USAGE = {"promptTokenCount": 10000, "cachedContentTokenCount": 8000, "candidatesTokenCount": 100}
# 2000 uncached x $0.30/1M + 8000 cached x $0.03/1M + 100 out x $2.50/1M = 600 + 240 + 250 = 1090 per 1M
CACHED_COST = 0.00109

LONG_USAGE = {"promptTokenCount": 250000, "candidatesTokenCount": 1000, "thoughtsTokenCount": 1000}
# over 200k input: 250000 x $2.50/1M + 2000 x $15/1M = 625000 + 30000 = 655000 per 1M
LONG_COST = 0.655
AT_LIMIT_USAGE = {"promptTokenCount": 200000, "candidatesTokenCount": 1000, "thoughtsTokenCount": 1000}
# exactly 200k input is still the base tier: 200000 x $1.25/1M + 2000 x $10/1M = 250000 + 20000 = 270000 per 1M
AT_LIMIT_COST = 0.27

STREAM_USAGE = {"promptTokenCount": 50, "candidatesTokenCount": 120, "totalTokenCount": 170}
# 50 in x $0.10/1M + 120 out x $0.40/1M = 5 + 48 = 53 per 1M
STREAM_COST = 0.000053


def stream_body(model: str) -> bytes:
    """`streamGenerateContent?alt=sse`: partial usage on every chunk, the cumulative one last."""
    chunks = [
        {
            **generate_response(model, {"promptTokenCount": 50, "totalTokenCount": 50}, f"part {i} "),
            "candidates": [{"content": {"parts": [{"text": f"part {i} "}], "role": "model"}, "index": 0}],
        }
        for i in range(5)
    ]
    chunks.append(generate_response(model, STREAM_USAGE, "end."))
    return b"".join(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n" for chunk in chunks)


class Chunked(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, body: bytes, size: int = 13) -> None:
        self.pieces = [body[i : i + size] for i in range(0, len(body), size)]

    def __iter__(self) -> Any:
        yield from self.pieces

    async def __aiter__(self) -> Any:
        for piece in self.pieces:
            yield piece


class FakeGoogle:
    """Answers like generativelanguage.googleapis.com and Vertex AI, from the request's path."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.usage: dict[str, Any] = THINKING_USAGE
        self.grounding: dict[str, Any] | None = None
        self.stream: bytes | None = None
        """The body of `streamGenerateContent`, when not `stream_body(model)`."""

    def __call__(self, request: Any) -> httpx2.Response:
        path = request.url.path
        self.paths.append(f"{request.url.host}{path}")
        model = path.rsplit("/", 1)[-1].split(":")[0]
        method = path.rsplit(":", 1)[-1]
        if method == "generateContent":
            answer = generate_response(model, self.usage)
            if self.grounding is not None:
                answer["candidates"][0]["groundingMetadata"] = self.grounding
            return httpx2.Response(200, json=answer)
        if method == "streamGenerateContent":
            assert request.url.params.get("alt") == "sse"
            headers = {"content-type": "text/event-stream"}
            body = stream_body(model) if self.stream is None else self.stream
            return httpx2.Response(200, stream=Chunked(body, 13 if self.stream is None else 65536), headers=headers)
        if method == "countTokens":
            return httpx2.Response(200, json={"totalTokens": 1000})
        if method == "batchEmbedContents":  # the Gemini API: no usage in the response
            return httpx2.Response(200, json={"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]})
        if method == "embedContent":  # Vertex AI
            body = {"embedding": {"values": [0.1, 0.2]}, "usageMetadata": {"promptTokenCount": 8}, "truncated": False}
            return httpx2.Response(200, json=body)
        if method == "predict":
            count = json.loads(request.content)["parameters"].get("sampleCount", 4)
            images = [{"mimeType": "image/png", "bytesBase64Encoded": PNG} for _ in range(count)]
            return httpx2.Response(200, json={"predictions": images})
        return httpx2.Response(404, json={"error": {"code": 404, "message": "no such method", "status": "NOT_FOUND"}})

    async def handle(self, request: Any) -> httpx2.Response:
        return self(request)


def gemini_client(fake: FakeGoogle) -> genai.Client:
    return genai.Client(
        api_key="test-key",
        http_options=types.HttpOptions(
            httpx_client=httpx2.Client(transport=httpx2.MockTransport(fake)),
            httpx_async_client=httpx2.AsyncClient(transport=httpx2.MockTransport(fake.handle)),
        ),
    )


def vertex_client(fake: FakeGoogle) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="acme-prod",
        location="us-central1",
        credentials=Credentials(token="ya29.test-token"),  # a valid token: google-auth never refreshes
        http_options=types.HttpOptions(
            httpx_client=httpx2.Client(transport=httpx2.MockTransport(fake)),
            httpx_async_client=httpx2.AsyncClient(transport=httpx2.MockTransport(fake.handle)),
        ),
    )


def attributes(telemetry: Telemetry) -> dict[str, Any]:
    return dict(telemetry.one_span().attributes or {})


def test_generate_content_with_thinking(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    with tags(team="search", feature="answers"):
        response = gemini_client(fake).models.generate_content(model="gemini-2.5-flash", contents="why is the sky blue")
    assert response.text == "Done."
    assert fake.paths == ["generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:generateContent"]
    span = telemetry.one_span()
    attrs = attributes(telemetry)
    assert span.name == "generate_content gemini-2.5-flash"
    assert attrs["gen_ai.provider.name"] == "gcp.gemini"
    assert attrs["gen_ai.operation.name"] == "generate_content"
    assert attrs["gen_ai.request.model"] == "gemini-2.5-flash"
    assert attrs["gen_ai.response.model"] == "gemini-2.5-flash"
    assert attrs["gen_ai.response.id"] == "mJ8zaM2bE5OMz7IPkquW8QM"
    assert attrs["gen_ai.response.finish_reasons"] == ("STOP",)
    assert attrs["gen_ai.usage.input_tokens"] == 1000
    assert attrs["gen_ai.usage.output_tokens"] == 500
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 300
    assert attrs["server.address"] == "generativelanguage.googleapis.com"
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(THINKING_COST)
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "search"}) == pytest.approx(THINKING_COST)
    assert telemetry.total("ai.cost.tokens", **{"ai.cost.token.type": "reasoning"}) == 300


def test_cached_content(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    fake.usage = CACHED_USAGE
    config = types.GenerateContentConfig(cached_content="cachedContents/contract-corpus-7f3a")
    gemini_client(fake).models.generate_content(model="gemini-2.5-flash", contents="clause 7?", config=config)
    attrs = attributes(telemetry)
    assert attrs["gen_ai.usage.input_tokens"] == 10000
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 8000
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(CACHED_COST)
    # what the cache saved: 8000 x ($0.30 - $0.03)/1M = $0.00216
    assert telemetry.total("ai.cost.savings") == pytest.approx(0.00216)


def test_stream(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    stream = gemini_client(fake).models.generate_content_stream(model="gemini-2.0-flash", contents="write")
    text = "".join(chunk.text or "" for chunk in stream)
    assert text == "part 0 part 1 part 2 part 3 part 4 end."
    assert fake.paths == ["generativelanguage.googleapis.com/v1/models/gemini-2.0-flash:streamGenerateContent"]
    attrs = attributes(telemetry)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (50, 120)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n" for chunk in chunks)


IMAGE_USAGE = {
    "promptTokenCount": 20,
    "candidatesTokenCount": 1300,
    "totalTokenCount": 1320,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 20}],
    "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}, {"modality": "TEXT", "tokenCount": 10}],
}
# gemini-2.5-flash-image: input 0.30, text output 2.50, image output 30 per 1M
# 20 x 0.30 + 10 x 2.50 + 1290 x 30 = 6 + 25 + 38700 = 38731 per 1M
IMAGE_STREAM_COST = 0.038731


@pytest.mark.parametrize("text_first", [True, False])
def test_image_stream_with_the_usage_in_the_chunk_of_the_image(telemetry: Telemetry, text_first: bool) -> None:
    """The chunk with the image (~1.4 MB of base64, more than an SSE event kept whole) carries the
    finish reason and the final usage."""
    image = base64.b64encode(bytes(range(256)) * 4096).decode()
    chunks = [
        {
            "candidates": [{"content": {"parts": [{"text": "Here is your cat."}], "role": "model"}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 20, "totalTokenCount": 20},
            "modelVersion": "gemini-2.5-flash-image",
            "responseId": "r-img",
        },
        {
            "candidates": [
                {
                    "content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": image}}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": IMAGE_USAGE,
            "modelVersion": "gemini-2.5-flash-image",
            "responseId": "r-img",
        },
    ]
    fake = FakeGoogle()
    fake.stream = sse(*chunks[0 if text_first else 1 :])
    config = types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"])
    stream = gemini_client(fake).models.generate_content_stream(
        model="gemini-2.5-flash-image", contents="draw a cat", config=config
    )
    last = list(stream)[-1]
    assert last.candidates and last.candidates[0].content and last.candidates[0].content.parts
    assert last.candidates[0].content.parts[0].inline_data is not None
    attrs = attributes(telemetry)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (20, 1300)
    assert (attrs["gen_ai.response.id"], attrs["gen_ai.response.finish_reasons"]) == ("r-img", ("STOP",))
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(IMAGE_STREAM_COST)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(IMAGE_STREAM_COST)


def test_an_error_chunk_fails_the_stream_with_the_usage_read_before_it(telemetry: Telemetry) -> None:
    usage = {"promptTokenCount": 10000, "candidatesTokenCount": 30, "totalTokenCount": 10030}
    chunks = [
        {
            **generate_response("gemini-2.5-flash", usage, f"part {i} "),
            "candidates": [{"content": {"parts": [{"text": f"part {i} "}], "role": "model"}, "index": 0}],
        }
        for i in range(3)
    ]
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    fake = FakeGoogle()
    fake.stream = sse(*chunks, error)
    with pytest.raises(genai.errors.ServerError) as raised:
        for _ in gemini_client(fake).models.generate_content_stream(model="gemini-2.5-flash", contents="write"):
            pass
    assert raised.value.code == 503
    span = telemetry.one_span()
    attrs = attributes(telemetry)
    assert span.status.status_code.name == "ERROR"
    assert attrs["error.type"] == "UNAVAILABLE"
    # what was read is billed: 10000 x $0.30/1M + 30 x $2.50/1M = 3000 + 75 = 3075 per 1M
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.003075)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(0.003075)
    assert telemetry.total("ai.cost.requests", **{"error.type": "UNAVAILABLE"}) == 1


def test_count_tokens_makes_no_span(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    assert gemini_client(fake).models.count_tokens(model="gemini-2.5-flash", contents="x").total_tokens == 1000
    assert fake.paths and telemetry.finished() == []
    assert telemetry.total("gen_ai.client.cost") == 0


def test_gemini_api_embeddings_have_no_usage_and_are_unpriced(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    result = gemini_client(fake).models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    assert result.embeddings is not None and len(result.embeddings) == 2
    attrs = attributes(telemetry)
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["ai.cost.priced"] is False
    assert attrs["ai.cost.unpriced_reason"] == "no_usage"
    assert "gen_ai.usage.cost.amount" not in attrs


@pytest.mark.filterwarnings("ignore:The generate_images method is deprecated")
def test_imagen_generate_images(telemetry: Telemetry) -> None:
    """The SDK sends Imagen requests to Vertex AI only (the Gemini API's :predict is covered at the wire)."""
    fake = FakeGoogle()
    config = types.GenerateImagesConfig(number_of_images=2)
    result = vertex_client(fake).models.generate_images(
        model="imagen-4.0-generate-001", prompt="a lighthouse at dusk", config=config
    )
    assert result.generated_images is not None and len(result.generated_images) == 2
    assert fake.paths[0].endswith("/publishers/google/models/imagen-4.0-generate-001:predict")
    attrs = attributes(telemetry)
    assert attrs["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert attrs["gen_ai.operation.name"] == "image_generation"
    assert attrs["ai.image.count"] == 2
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.08)  # 2 images x $0.04
    assert telemetry.total("ai.cost.images") == 2


def test_vertex_generate_content_long_context_tiers(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    client = vertex_client(fake)
    fake.usage = LONG_USAGE
    client.models.generate_content(model="gemini-2.5-pro", contents="summarise the filing")
    fake.usage = AT_LIMIT_USAGE
    client.models.generate_content(model="gemini-2.5-pro", contents="summarise the filing")
    assert fake.paths[0] == (
        "us-central1-aiplatform.googleapis.com"
        "/v1beta1/projects/acme-prod/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"
    )
    long, at_limit = (dict(span.attributes or {}) for span in telemetry.finished())
    assert long["gen_ai.provider.name"] == at_limit["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert long["gen_ai.request.model"] == "gemini-2.5-pro"
    assert long["gen_ai.usage.input_tokens"] == 250000
    assert long["gen_ai.usage.cost.amount"] == pytest.approx(LONG_COST)
    assert at_limit["gen_ai.usage.cost.amount"] == pytest.approx(AT_LIMIT_COST)
    assert telemetry.total("gen_ai.client.cost", **{"gen_ai.provider.name": "gcp.vertex_ai"}) == pytest.approx(
        LONG_COST + AT_LIMIT_COST
    )


GROUNDING = {
    "webSearchQueries": ["EU AI Act GPAI obligations date", "AI Act timeline"],
    "groundingChunks": [{"web": {"uri": "https://example.eu/ai-act", "title": "example.eu"}}],
    "searchEntryPoint": {"renderedContent": '<div class="container"></div>'},
}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # one grounded prompt at $35 / 1000 on top of the tokens: 0.00155 + 0.035
        ("gemini-2.5-flash", THINKING_COST + 0.035),
        # two queries at $14 / 1000; tokens 1000 x 0.50 + 500 x 3.00 = 2000 per 1M = $0.002
        ("gemini-3-flash-preview", 0.002 + 2 * 0.014),
    ],
)
def test_grounding_with_google_search_is_billed(telemetry: Telemetry, model: str, expected: float) -> None:
    fake = FakeGoogle()
    fake.grounding = GROUNDING
    search = types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())])
    response = gemini_client(fake).models.generate_content(model=model, contents="AI Act dates", config=search)
    assert response.candidates and response.candidates[0].grounding_metadata is not None
    attrs = attributes(telemetry)
    assert attrs["ai.web_search.count"] == (1 if model.startswith("gemini-2") else 2)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(expected)


def test_vertex_traffic_type_tells_provisioned_throughput_and_tiers(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    client = vertex_client(fake)
    for traffic in ("PROVISIONED_THROUGHPUT", "ON_DEMAND_FLEX", "ON_DEMAND"):
        fake.usage = {**THINKING_USAGE, "trafficType": traffic}
        client.models.generate_content(model="gemini-2.5-flash", contents="why is the sky blue")
    provisioned, flex, on_demand = (dict(span.attributes or {}) for span in telemetry.finished())
    # served by capacity bought up front: nothing more to pay; its list price is the on-demand one
    assert provisioned["ai.cost.commitment"] == "provisioned"
    assert provisioned["gen_ai.usage.cost.amount"] == 0
    assert provisioned["ai.cost.list_amount"] == pytest.approx(THINKING_COST)
    # the catalog has no flex price for Gemini: the standard price, flagged as an estimate
    assert flex["ai.cost.commitment"] == "flex" and flex["ai.cost.estimated"] is True
    assert flex["gen_ai.usage.cost.amount"] == pytest.approx(THINKING_COST)
    assert on_demand["ai.cost.commitment"] == "on_demand" and on_demand["ai.cost.estimated"] is False
    assert on_demand["gen_ai.usage.cost.amount"] == pytest.approx(THINKING_COST)


@pytest.mark.filterwarnings("ignore:The generate_images method is deprecated")
def test_vertex_embeddings_and_imagen(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    client = vertex_client(fake)
    client.models.embed_content(model="gemini-embedding-001", contents="quarterly revenue")
    client.models.generate_images(
        model="imagen-3.0-generate-002", prompt="a red bicycle", config=types.GenerateImagesConfig(number_of_images=1)
    )
    assert [path.rsplit(":", 1)[-1] for path in fake.paths] == ["embedContent", "predict"]
    embed, image = (dict(span.attributes or {}) for span in telemetry.finished())
    assert (embed["gen_ai.provider.name"], embed["gen_ai.operation.name"]) == ("gcp.vertex_ai", "embeddings")
    assert embed["gen_ai.usage.input_tokens"] == 8
    assert embed["gen_ai.usage.cost.amount"] == pytest.approx(0.0000012)  # 8 x $0.15/1M
    assert (image["gen_ai.operation.name"], image["ai.image.count"]) == ("image_generation", 1)
    assert image["gen_ai.usage.cost.amount"] == pytest.approx(0.04)  # 1 image x $0.04


def test_async_generate_and_stream(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    client = gemini_client(fake)

    async def main() -> str:
        await client.aio.models.generate_content(model="gemini-2.5-flash", contents="x")
        parts = [
            chunk.text or ""
            async for chunk in await client.aio.models.generate_content_stream(model="gemini-2.0-flash", contents="y")
        ]
        return "".join(parts)

    assert asyncio.run(main()).endswith("end.")
    whole, streamed = (dict(span.attributes or {}) for span in telemetry.finished())
    assert whole["gen_ai.usage.cost.amount"] == pytest.approx(THINKING_COST)
    assert streamed["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(THINKING_COST + STREAM_COST)


def test_async_vertex(telemetry: Telemetry) -> None:
    fake = FakeGoogle()
    fake.usage = LONG_USAGE
    client = vertex_client(fake)
    asyncio.run(client.aio.models.generate_content(model="gemini-2.5-pro", contents="x"))
    attrs = attributes(telemetry)
    assert attrs["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(LONG_COST)


def test_an_api_error_passes_through(telemetry: Telemetry) -> None:
    body = {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}
    client = genai.Client(
        api_key="test-key",
        http_options=types.HttpOptions(
            httpx_client=httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(429, json=body)))
        ),
    )
    with pytest.raises(genai.errors.ClientError) as raised:
        client.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert raised.value.code == 429
    assert attributes(telemetry)["error.type"] == "429"


ARRAY_STREAM = (Path(__file__).parent.parent / "providers" / "fixtures" / "gemini_stream_array.json").read_bytes()
# gemini-2.0-flash-lite-001: 9 in x $0.075/1M + 12 out x $0.30/1M = 0.675 + 3.6 = 4.275 per 1M
ARRAY_STREAM_COST = 0.000004275


def test_json_array_stream_over_raw_http(telemetry: Telemetry) -> None:
    """`streamGenerateContent` without alt=sse: a JSON array read piece by piece by the caller."""

    def respond(request: Any) -> httpx2.Response:
        return httpx2.Response(200, stream=Chunked(ARRAY_STREAM), headers={"content-type": "application/json"})

    url = (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-prod/locations/europe-west4"
        "/publishers/google/models/gemini-2.0-flash-lite-001:streamGenerateContent"
    )
    with httpx2.Client(transport=httpx2.MockTransport(respond)) as client:
        with client.stream("POST", url, json={"contents": [{"role": "user", "parts": [{"text": "a poem"}]}]}) as reply:
            received = b"".join(reply.iter_bytes())
    assert received == ARRAY_STREAM
    attrs = attributes(telemetry)
    assert (attrs["gen_ai.provider.name"], attrs["gen_ai.request.model"]) == (
        "gcp.vertex_ai",
        "gemini-2.0-flash-lite-001",
    )
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (9, 12)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(ARRAY_STREAM_COST)


def test_openai_compatible_endpoint_of_the_gemini_api(telemetry: Telemetry) -> None:
    completion = {
        "id": "chatcmpl-gemini-1",
        "object": "chat.completion",
        "created": 1758190000,
        "model": "gemini-2.0-flash",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 120, "total_tokens": 170},
    }
    client = openai.OpenAI(
        api_key="test-key",
        base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
        http_client=httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(200, json=completion))),
    )
    client.chat.completions.create(model="gemini-2.0-flash", messages=[{"role": "user", "content": "hello"}])
    attrs = attributes(telemetry)
    assert (attrs["gen_ai.provider.name"], attrs["gen_ai.operation.name"]) == ("gcp.gemini", "chat")
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(
        STREAM_COST
    )  # the same 50 in / 120 out on gemini-2.0-flash
