"""Bedrock Runtime over HTTP: the real anthropic SDK's `AnthropicBedrock` (httpx2) and plain httpx
calls, through MockTransport; boto3 against a loopback server shows a boto3 call is priced once.

Streams come in AWS's binary event-stream framing (`eventstream_testkit`), decoded by the SDK
with botocore. Prices (USD per 1M tokens, Bedrock on-demand list): Claude 3.5 Haiku 0.80 in, 4.00
out, 0.08 cache read, 1.00 cache write; Claude Sonnet 4.5 global 3.00 / 15.00; Nova Lite 0.06 /
0.24.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anthropic
import boto3
import httpx
import httpx2
import pytest
import requests
from botocore.config import Config
from eventstream_testkit import CONTENT_TYPE, chunk_event, event, exception_event
from opentelemetry.trace import StatusCode
from otel_testkit import serving

from otel_ai_cost import tags

if TYPE_CHECKING:
    from .conftest import Telemetry

FIXTURES = Path(__file__).parent.parent / "providers" / "fixtures"
HAIKU_35 = "anthropic.claude-3-5-haiku-20241022-v1:0"
SONNET_45_GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA_LITE = "us.amazon.nova-lite-v1:0"
# 310 x 0.80 + 6144 x 0.08 + 2048 x 1.00 + 180 x 4.00 = 248 + 491.52 + 2048 + 720 = 3507.52 per 1M
HAIKU_MESSAGE_COST = 0.00350752
# 1500 x 3.00 + 300 x 15.00 = 4500 + 4500 = 9000 per 1M (global endpoint price)
SONNET_STREAM_COST = 0.009
# 96 x 0.80 + 6144 x 0.08 + 2048 x 1.00 + 412 x 4.00 = 76.8 + 491.52 + 2048 + 1648 = 4264.32 per 1M
CONVERSE_CACHE_COST = 0.00426432


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def anthropic_chunks() -> list[bytes]:
    return fixture("bedrock_anthropic_stream.jsonl").splitlines()


class Bedrock:
    """Answers as Bedrock Runtime does; keeps the paths asked for. `stream_tail` ends the streams."""

    def __init__(self, stream_tail: bytes = b"") -> None:
        self.paths: list[str] = []
        self.stream_tail = stream_tail

    def __call__(self, request: Any) -> httpx2.Response:
        path = request.url.raw_path.decode()
        self.paths.append(path)
        if path.endswith("/invoke-with-response-stream"):
            frames = [chunk_event(chunk) for chunk in anthropic_chunks()]
            if self.stream_tail:
                frames = frames[:3] + [self.stream_tail]
            body = b"".join(frames)
            pieces = [body[i : i + 37] for i in range(0, len(body), 37)]  # frames cut anywhere
            return httpx2.Response(200, stream=Pieces(pieces), headers={"content-type": CONTENT_TYPE})
        return httpx2.Response(
            200,
            content=fixture("bedrock_anthropic_message.json"),
            headers={
                "content-type": "application/json",
                "x-amzn-bedrock-input-token-count": "310",
                "x-amzn-bedrock-output-token-count": "180",
            },
        )

    async def handle(self, request: Any) -> httpx2.Response:
        return self(request)


class Pieces(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Any:
        yield from self.pieces

    async def __aiter__(self) -> Any:
        for piece in self.pieces:
            yield piece


def bedrock_client(server: Bedrock) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(
        aws_access_key="AKIDEXAMPLE",
        aws_secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_region="us-east-1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(server)),
    )


def test_anthropic_bedrock_create(telemetry: Telemetry) -> None:
    server = Bedrock()
    with tags(team="legal", feature="renewals"):
        message = bedrock_client(server).messages.create(
            model=HAIKU_35, max_tokens=400, messages=[{"role": "user", "content": "when does it renew?"}]
        )
    assert message.usage.cache_read_input_tokens == 6144
    assert server.paths == ["/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke"]
    span = telemetry.one_span()
    attrs = dict(span.attributes or {})
    assert span.name == f"chat {HAIKU_35}"
    assert attrs["gen_ai.provider.name"] == "aws.bedrock"
    assert attrs["server.address"] == "bedrock-runtime.us-east-1.amazonaws.com"
    assert attrs["gen_ai.usage.input_tokens"] == 310 + 6144 + 2048  # the body's counts, cache included
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(HAIKU_MESSAGE_COST, rel=1e-9)
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "legal"}) == pytest.approx(HAIKU_MESSAGE_COST)


def test_anthropic_bedrock_stream(telemetry: Telemetry) -> None:
    server = Bedrock()
    with bedrock_client(server).messages.stream(
        model=SONNET_45_GLOBAL, max_tokens=400, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == "The usage of tokens is fine."
    assert server.paths == [f"/model/{SONNET_45_GLOBAL}/invoke-with-response-stream"]
    attrs = dict(telemetry.one_span().attributes or {})
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (1500, 300)
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(SONNET_STREAM_COST, rel=1e-9)


def test_async_anthropic_bedrock_stream(telemetry: Telemetry) -> None:
    server = Bedrock()

    async def main() -> None:
        client = anthropic.AsyncAnthropicBedrock(
            aws_access_key="AKIDEXAMPLE",
            aws_secret_key="secret",
            aws_region="eu-west-1",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server.handle)),
        )
        stream = await client.messages.create(
            model=SONNET_45_GLOBAL, max_tokens=400, messages=[{"role": "user", "content": "x"}], stream=True
        )
        async for _ in stream:
            pass

    asyncio.run(main())
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["server.address"] == "bedrock-runtime.eu-west-1.amazonaws.com"
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(SONNET_STREAM_COST, rel=1e-9)


def test_exception_in_the_stream_fails_the_call(telemetry: Telemetry) -> None:
    server = Bedrock(stream_tail=exception_event("throttlingException", "Too many tokens, please wait."))
    stream = bedrock_client(server).messages.create(
        model=SONNET_45_GLOBAL, max_tokens=400, messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(anthropic.APIStatusError):
        for _ in stream:
            pass
    stream.close()
    span = telemetry.one_span()
    attrs = dict(span.attributes or {})
    assert span.status.status_code == StatusCode.ERROR
    assert attrs["error.type"] == "throttlingException"
    assert attrs["gen_ai.usage.input_tokens"] == 1500  # message_start came before the exception


def converse_stream_body() -> bytes:
    events = [json.loads(line) for line in fixture("bedrock_converse_stream.jsonl").splitlines()]
    return b"".join(event(next(iter(e)), next(iter(e.values()))) for e in events)


def test_raw_httpx_converse_and_converse_stream(telemetry: Telemetry) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/converse-stream"):
            return httpx.Response(200, content=converse_stream_body(), headers={"content-type": CONTENT_TYPE})
        return httpx.Response(200, content=fixture("bedrock_converse_cache.json"))

    client = httpx.Client(transport=httpx.MockTransport(respond))
    base = "https://bedrock-runtime.us-west-2.amazonaws.com/model"
    body = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    reply = client.post(f"{base}/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse", json=body)
    assert reply.json()["usage"]["inputTokens"] == 96
    with client.stream("POST", f"{base}/us.amazon.nova-lite-v1%3A0/converse-stream", json=body) as streamed:
        assert streamed.read() == converse_stream_body()
    converse, converse_stream = telemetry.finished()
    assert dict(converse.attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(CONVERSE_CACHE_COST, rel=1e-9)
    attrs = dict(converse_stream.attributes or {})
    assert attrs["gen_ai.request.model"] == NOVA_LITE
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (2500, 600)
    # 2500 x 0.06 + 600 x 0.24 = 150 + 144 = 294 per 1M
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.000294, rel=1e-9)


class _Converse(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("content-length") or 0))
        streamed = self.path.endswith("/converse-stream")
        body = converse_stream_body() if streamed else fixture("bedrock_converse_cache.json")
        self.send_response(200)
        self.send_header("content-type", CONTENT_TYPE if streamed else "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _Converse)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def test_requests_converse_stream_through_an_endpoint_map(
    loopback: str, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_AI_COST_ENDPOINTS", f"{loopback}=bedrock:corp-bedrock")
    telemetry.reinstrument()
    body = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    with requests.post(f"{loopback}/model/us.amazon.nova-lite-v1%3A0/converse-stream", json=body, stream=True) as reply:
        received = b"".join(reply.iter_content(chunk_size=5))
    assert received == converse_stream_body()
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.provider.name"] == "corp-bedrock"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (2500, 600)


def test_a_boto3_call_is_priced_once(loopback: str, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loopback server is also mapped as a Bedrock endpoint for the HTTP hooks: botocore sends
    with urllib3, which no HTTP hook sees, so the boto3 call is one span (from the botocore hook)."""
    monkeypatch.setenv("OTEL_AI_COST_ENDPOINTS", f"{loopback}=bedrock")
    telemetry.reinstrument()
    body = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    httpx.post(f"{loopback}/model/{HAIKU_35}/converse", json=body)  # the map does route HTTP clients here
    assert len(telemetry.finished()) == 1
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=loopback,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    client.converse(modelId=HAIKU_35, messages=body["messages"])
    spans = telemetry.finished()
    assert len(spans) == 2
    assert [dict(s.attributes or {})["gen_ai.usage.cost.amount"] for s in spans] == pytest.approx(
        [CONVERSE_CACHE_COST, CONVERSE_CACHE_COST], rel=1e-9
    )


def test_anthropic_bedrock_mantle_messages(telemetry: Telemetry) -> None:
    """Anthropic's Messages API on Bedrock's Mantle host (`/anthropic/v1/messages`)."""
    seen: list[str] = []
    model = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    answer = {**json.loads(fixture("bedrock_anthropic_message.json")), "model": model}

    def respond(request: Any) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(200, json=answer)

    client = anthropic.AnthropicBedrockMantle(
        api_key="bedrock-api-key",
        aws_region="us-east-1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(respond)),
    )
    client.messages.create(model=model, max_tokens=400, messages=[{"role": "user", "content": "x"}])
    assert seen == ["https://bedrock-mantle.us-east-1.api.aws/anthropic/v1/messages"]
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.provider.name"] == "aws.bedrock"
    assert attrs["gen_ai.usage.input_tokens"] == 310 + 6144 + 2048
    # Sonnet 4.5 in-region: 3.30 in, 16.50 out, 0.33 cache read, 4.125 cache write (5 min)
    # 310 x 3.30 + 6144 x 0.33 + 2048 x 4.125 + 180 x 16.50 = 1023 + 2027.52 + 8448 + 2970 = 14468.52 per 1M
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.01446852, rel=1e-9)


def test_openai_compatible_chat_on_bedrock_runtime(telemetry: Telemetry) -> None:
    """Bedrock Runtime's OpenAI-compatible API (`/openai/v1/chat/completions`), e.g. gpt-oss."""
    completion = {
        "id": "chatcmpl-bdrk-1",
        "object": "chat.completion",
        "created": 1764680000,
        "model": "openai.gpt-oss-20b-1:0",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
    }
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=completion)))
    client.post(
        "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1/chat/completions",
        json={"model": "openai.gpt-oss-20b-1:0", "messages": [{"role": "user", "content": "x"}]},
    )
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.provider.name"] == "aws.bedrock"
    # gpt-oss-20b on Bedrock: 0.07 in, 0.30 out: 1000 x 0.07 + 500 x 0.30 = 70 + 150 = 220 per 1M
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.00022, rel=1e-9)
