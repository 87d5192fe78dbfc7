"""Claude on Vertex AI: the real anthropic SDK's `AnthropicVertex` through MockTransport.

Vertex AI bills Claude at Anthropic's list prices on the global endpoint; regional and
multi-region endpoints cost 10% more on Vertex for Claude Sonnet 4.5 and later, which the
bundled catalog (genai-prices) does not carry: every endpoint is priced at the global price.
Claude Sonnet 4.5 (USD per 1M tokens, up to 200k input): input 3, output 15, cache read 0.30,
cache write 5 min 3.75.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import anthropic
import httpx2
import pytest

from otel_ai_cost import tags
from otel_ai_cost.providers.anthropic_vertex import VertexAnthropicProtocol
from otel_ai_cost.providers.gemini import GeminiProtocol
from otel_ai_cost.providers.routing import route

if TYPE_CHECKING:
    from .conftest import Telemetry

MODEL = "claude-sonnet-4-5@20250929"
MESSAGE = {
    "id": "msg_vrtx_01Ab3xYz",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Paris."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 1200,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 10000,
        "output_tokens": 300,
    },
}
# 1200 x 3 + 10000 x 0.30 + 2000 x 3.75 + 300 x 15 = 3600 + 3000 + 7500 + 4500 = 18600 per 1M
MESSAGE_COST = 0.0186


def stream_body() -> bytes:
    start = {**MESSAGE, "content": [], "stop_reason": None, "usage": {"input_tokens": 800, "output_tokens": 1}}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 120}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {name}\ndata: {json.dumps(e)}\n\n".encode() for name, e in events)


# 800 x 3 + 120 x 15 = 2400 + 1800 = 4200 per 1M
STREAM_COST = 0.0042


class Vertex:
    """Answers as Vertex AI does; keeps the paths asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, request: Any) -> httpx2.Response:
        self.paths.append(request.url.path)
        if request.url.path.endswith("count-tokens:rawPredict"):
            return httpx2.Response(200, json={"input_tokens": 42})
        if request.url.path.endswith(":streamRawPredict"):
            return httpx2.Response(200, content=stream_body(), headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=MESSAGE)

    async def handle(self, request: Any) -> httpx2.Response:
        return self(request)


def vertex_client(server: Vertex, region: str = "us-east5") -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        region=region,
        project_id="acme-prod",
        access_token="fake",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(server)),
    )


def test_raw_predict_is_priced_from_the_model_in_the_path(telemetry: Telemetry) -> None:
    server = Vertex()
    with tags(team="search", feature="answers"):
        message = vertex_client(server).messages.create(
            model=MODEL, max_tokens=512, messages=[{"role": "user", "content": "capital of France?"}]
        )
    assert message.content[0].text == "Paris."  # type: ignore[union-attr]
    assert server.paths == [f"/v1/projects/acme-prod/locations/us-east5/publishers/anthropic/models/{MODEL}:rawPredict"]
    span = telemetry.one_span()
    attrs = dict(span.attributes or {})
    assert span.name == f"chat {MODEL}"
    assert attrs["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["server.address"] == "us-east5-aiplatform.googleapis.com"
    assert attrs["gen_ai.usage.input_tokens"] == 13200  # 1200 + 10000 cache read + 2000 cache write
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 10000
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(MESSAGE_COST)
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "search"}) == pytest.approx(MESSAGE_COST)


def test_stream_raw_predict(telemetry: Telemetry) -> None:
    server = Vertex()
    with vertex_client(server, region="global").messages.stream(
        model=MODEL, max_tokens=512, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert "".join(stream.text_stream) == "Hi"
    assert server.paths[0].endswith(f"/locations/global/publishers/anthropic/models/{MODEL}:streamRawPredict")
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["server.address"] == "aiplatform.googleapis.com"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (800, 120)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)


def test_multi_region_endpoint_and_async_stream(telemetry: Telemetry) -> None:
    server = Vertex()

    async def main() -> None:
        client = anthropic.AsyncAnthropicVertex(
            region="us",
            project_id="acme-prod",
            access_token="fake",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server.handle)),
        )
        stream = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}], stream=True
        )
        async for _ in stream:
            pass

    asyncio.run(main())
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["server.address"] == "aiplatform.us.rep.googleapis.com"
    assert attrs["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)


def test_count_tokens_makes_no_span(telemetry: Telemetry) -> None:
    server = Vertex()
    counted = vertex_client(server).messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert counted.input_tokens == 42
    assert server.paths[0].endswith("/publishers/anthropic/models/count-tokens:rawPredict")
    assert telemetry.finished() == []


@pytest.mark.parametrize(
    "host", ["us-east5-aiplatform.googleapis.com", "aiplatform.googleapis.com", "aiplatform.eu.rep.googleapis.com"]
)
def test_only_anthropic_publisher_paths_go_to_the_anthropic_parser(host: str) -> None:
    base = "/v1/projects/p/locations/l/publishers"
    claude = route(host, f"{base}/anthropic/models/{MODEL}:rawPredict")
    gemini = route(host, f"{base}/google/models/gemini-2.5-flash:generateContent")
    assert isinstance(claude, VertexAnthropicProtocol) and claude.provider == "gcp.vertex_ai"
    assert isinstance(gemini, GeminiProtocol) and gemini.provider == "gcp.vertex_ai"
