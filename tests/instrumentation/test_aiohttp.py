"""The aiohttp transport: real aiohttp clients against a real aiohttp server on loopback.

The server (an aiohttp web application on its own thread and event loop) answers as an
OpenAI-style chat endpoint and as the Gemini API; `OTEL_AI_COST_ENDPOINTS` maps its paths to those
protocols. The real google-genai SDK's async client sends through aiohttp (it does whenever aiohttp
is installed and no httpx async client is given), as do plain `aiohttp.ClientSession` calls.

Published prices (USD per 1M tokens):
- gpt-4o-mini: input 0.15, output 0.60
- gemini-2.5-flash: input 0.30, output (thinking included) 2.50
- gemini-2.0-flash: input 0.10, output 0.40
The Gemini usages and their costs, worked out by hand, are test_google_genai_sdk's.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import openai
import pytest
import wrapt
from aiohttp import web
from google import genai
from google.genai import types
from opentelemetry.trace import StatusCode
from test_google_genai_sdk import STREAM_COST as GEMINI_STREAM_COST
from test_google_genai_sdk import STREAM_USAGE as GEMINI_STREAM_USAGE
from test_google_genai_sdk import THINKING_COST as GEMINI_THINKING_COST
from test_google_genai_sdk import THINKING_USAGE as GEMINI_THINKING_USAGE
from test_google_genai_sdk import generate_response as gemini_response

from otel_ai_cost import AICostInstrumentor, BudgetExceeded, budget, tags
from otel_ai_cost.transports.common import end_collected

if TYPE_CHECKING:
    from .conftest import Telemetry

T = TypeVar("T")

MODEL = "gpt-4o-mini"
USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
# 1000 in x $0.15/1M + 200 out x $0.60/1M = 150 + 120 = 270 per 1M
CHAT_COST = 0.00027
CHAT_RESPONSE = {
    "id": "chatcmpl-AIOHTTP1",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}],
    "usage": USAGE,
}


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None) -> bytes:
    event = {
        "id": "chatcmpl-AIOHTTP2",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": usage,
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


STREAM_EVENTS = [
    chunk({"role": "assistant", "content": ""}),
    *[chunk({"content": f"word{i} "}) for i in range(40)],
    chunk({}, "stop"),
    chunk({}, usage=USAGE),  # stream_options.include_usage: the usage comes last, choices empty
    b"data: [DONE]\n\n",
]
STREAM = b"".join(STREAM_EVENTS)


class FakeApis:
    """The aiohttp application: OpenAI-style chat under /{variant}/v1, the Gemini API under /v1/models."""

    def __init__(self) -> None:
        self.release_held = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/{variant}/v1/chat/completions", self.chat)
        self.app.router.add_post("/v1/models/{call}", self.gemini)
        self.app.router.add_get("/openai/v1/models", self.models)

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"data": [{"id": MODEL}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        variant = request.match_info["variant"]
        body = await request.json()
        if variant == "limited":
            return web.json_response({"error": {"message": "Rate limit reached", "type": "tokens"}}, status=429)
        if variant == "broken":
            return web.json_response({"error": {"message": "The server had an error"}}, status=500)
        if not body.get("stream"):
            raw = json.dumps(CHAT_RESPONSE).encode()
            if variant == "gz":
                return web.Response(
                    body=gzip.compress(raw), headers={"content-type": "application/json", "content-encoding": "gzip"}
                )
            return web.Response(body=raw, content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        if variant == "gz":
            response.enable_compression(web.ContentCoding.gzip)
        await response.prepare(request)
        for index, event in enumerate(STREAM_EVENTS):
            if variant == "cut" and index == 5:
                assert request.transport is not None
                request.transport.close()  # the connection lost mid-body
                return response
            if variant == "hold" and index == 2:
                await response.write(b"")
                await asyncio.sleep(60)  # never sends the rest: until the client goes away
            await response.write(event)
            if index % 8 == 0:
                await asyncio.sleep(0.001)  # the body arrives in several reads
        await response.write_eof()
        return response

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["call"].partition(":")
        await request.read()
        if method == "generateContent":
            return web.json_response(gemini_response(model, GEMINI_THINKING_USAGE))
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for i in range(5):
            partial = {**gemini_response(model, {"promptTokenCount": 50, "totalTokenCount": 50}, f"part {i} ")}
            partial["candidates"] = [{"content": {"parts": [{"text": f"part {i} "}], "role": "model"}, "index": 0}]
            await response.write(b"data: " + json.dumps(partial).encode() + b"\r\n\r\n")
            await asyncio.sleep(0.001)
        final = gemini_response(model, GEMINI_STREAM_USAGE, "end.")
        await response.write(b"data: " + json.dumps(final).encode() + b"\r\n\r\n")
        await response.write_eof()
        return response


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        # handler_cancellation: a held stream's handler stops when its client goes away
        runner = web.AppRunner(FakeApis().app, handle_signals=False, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        holder["runner"] = runner
        holder["port"] = runner.addresses[0][1]
        started.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def base(server: str, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> str:
    endpoints = [f"{server}/{v}/v1=openai" for v in ("openai", "gz", "limited", "broken", "cut", "hold")]
    monkeypatch.setenv("OTEL_AI_COST_ENDPOINTS", ",".join([*endpoints, f"{server}/v1/models=gemini"]))
    telemetry.reinstrument()
    return server


CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "secret prompt"}]}
STREAM_CHAT = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}


def run(make: Callable[[aiohttp.ClientSession], Awaitable[T]], **options: Any) -> T:
    """`make(session)` on a fresh event loop, with a session closed afterwards."""

    async def main() -> T:
        async with aiohttp.ClientSession(**options) as session:
            return await make(session)

    return asyncio.run(main())


def attributes_of(telemetry: Telemetry) -> dict[str, Any]:
    return dict(telemetry.one_span().attributes or {})


def assert_chat_priced(attributes: dict[str, Any]) -> None:
    assert attributes["gen_ai.provider.name"] == "openai"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (1000, 200)
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(CHAT_COST)
    assert "error.type" not in attributes


# --- plain aiohttp, an OpenAI-style endpoint -------------------------------------------------------


@pytest.mark.parametrize("read", ["json", "text", "read", "content.read"])
def test_a_json_response_is_one_priced_span_however_it_is_read(base: str, telemetry: Telemetry, read: str) -> None:
    async def call(session: aiohttp.ClientSession) -> Any:
        with tags(team="search", feature="autocomplete"):
            async with session.post(f"{base}/openai/v1/chat/completions", json=CHAT) as response:
                if read == "json":
                    return await response.json()
                if read == "text":
                    return json.loads(await response.text())
                if read == "read":
                    return json.loads(await response.read())
                return json.loads(await response.content.read())

    assert run(call) == CHAT_RESPONSE
    span = telemetry.one_span()
    attributes = dict(span.attributes or {})
    assert span.name == f"chat {MODEL}"
    assert_chat_priced(attributes)
    assert attributes["gen_ai.response.id"] == "chatcmpl-AIOHTTP1"
    assert attributes["ai.cost.team"] == "search"
    assert attributes["server.address"] == "127.0.0.1"
    assert "secret prompt" not in json.dumps(attributes)
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "search"}) == pytest.approx(CHAT_COST)
    assert telemetry.points("ai.cost.internal_errors") == []


async def read_all(response: aiohttp.ClientResponse, how: str) -> bytes:
    content = response.content
    if how == "iter_chunked":
        return b"".join([piece async for piece in content.iter_chunked(100)])
    if how == "iter_any":
        return b"".join([piece async for piece in content.iter_any()])
    if how == "iter_chunks":
        return b"".join([piece async for piece, _ in content.iter_chunks()])
    if how == "async for line":
        return b"".join([line async for line in content])
    if how == "readline":
        lines = []
        while line := await content.readline():
            lines.append(line)
        return b"".join(lines)
    if how == "readany":
        pieces = []
        while piece := await content.readany():
            pieces.append(piece)
        return b"".join(pieces)
    if how == "readexactly":
        return await content.readexactly(len(STREAM))
    return await response.read()


READS = ["iter_chunked", "iter_any", "iter_chunks", "async for line", "readline", "readany", "readexactly", "read"]


@pytest.mark.parametrize("how", READS)
def test_a_stream_gives_the_same_bytes_and_one_span_priced_from_its_usage(
    base: str, telemetry: Telemetry, how: str
) -> None:
    async def call(session: aiohttp.ClientSession) -> bytes:
        async with session.post(f"{base}/openai/v1/chat/completions", json=STREAM_CHAT) as response:
            return await read_all(response, how)

    assert run(call) == STREAM
    attributes = attributes_of(telemetry)
    assert_chat_priced(attributes)
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_gzip_encoded_response_is_read_decoded_and_priced(base: str, telemetry: Telemetry, stream: bool) -> None:
    async def call(session: aiohttp.ClientSession) -> tuple[str | None, bytes]:
        async with session.post(f"{base}/gz/v1/chat/completions", json=STREAM_CHAT if stream else CHAT) as response:
            return response.headers.get("content-encoding"), await read_all(response, "iter_any")

    encoding, body = run(call)
    assert encoding == "gzip"
    assert body == (STREAM if stream else json.dumps(CHAT_RESPONSE).encode())
    assert_chat_priced(attributes_of(telemetry))


def test_a_gzip_body_read_undecoded_is_decoded_on_our_copy(base: str, telemetry: Telemetry) -> None:
    async def call(session: aiohttp.ClientSession) -> bytes:
        async with session.post(f"{base}/gz/v1/chat/completions", json=CHAT) as response:
            return await response.read()

    body = run(call, auto_decompress=False)
    assert gzip.decompress(body) == json.dumps(CHAT_RESPONSE).encode()  # the caller gets the gzip bytes
    assert_chat_priced(attributes_of(telemetry))


@pytest.mark.parametrize(("variant", "status"), [("limited", 429), ("broken", 500)])
def test_an_http_error_status_is_an_error_type_without_cost(
    base: str, telemetry: Telemetry, variant: str, status: int
) -> None:
    async def call(session: aiohttp.ClientSession) -> tuple[int, Any]:
        async with session.post(f"{base}/{variant}/v1/chat/completions", json=CHAT) as response:
            return response.status, await response.json()

    got, body = run(call)
    assert got == status and "error" in body
    span = telemetry.one_span()
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == str(status)
    assert span.status.status_code == StatusCode.ERROR
    assert "gen_ai.usage.cost.amount" not in attributes
    assert telemetry.total("ai.cost.requests", **{"error.type": str(status)}) == 1


def test_raise_for_status_fails_the_span_with_the_status_and_raises_what_aiohttp_raises(
    base: str, telemetry: Telemetry
) -> None:
    async def call(session: aiohttp.ClientSession) -> None:
        await session.post(f"{base}/limited/v1/chat/completions", json=CHAT)

    with pytest.raises(aiohttp.ClientResponseError) as raised:
        run(call, raise_for_status=True)
    assert raised.value.status == 429
    attributes = attributes_of(telemetry)
    assert attributes["error.type"] == "429"
    assert "gen_ai.usage.cost.amount" not in attributes


def test_a_connection_error_is_re_raised_untouched(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("OTEL_AI_COST_ENDPOINTS", f"http://127.0.0.1:{closed_port}/v1=openai")
    telemetry.reinstrument()

    async def call(session: aiohttp.ClientSession) -> None:
        await session.post(f"http://127.0.0.1:{closed_port}/v1/chat/completions?key=secret-key", json=CHAT)

    with pytest.raises(aiohttp.ClientConnectorError):
        run(call)
    span = telemetry.one_span()
    assert (span.attributes or {})["error.type"] == "ClientConnectorError"
    assert "secret-key" not in (span.status.description or "")
    assert "gen_ai.usage.cost.amount" not in (span.attributes or {})


def test_a_stream_cut_mid_body_fails_the_span_and_raises_what_aiohttp_raises(base: str, telemetry: Telemetry) -> None:
    async def call(session: aiohttp.ClientSession) -> None:
        async with session.post(f"{base}/cut/v1/chat/completions", json=STREAM_CHAT) as response:
            async for _ in response.content:
                pass

    with pytest.raises(aiohttp.ClientPayloadError):
        run(call)
    span = telemetry.one_span()
    assert (span.attributes or {})["error.type"] == "ClientPayloadError"
    assert span.status.status_code == StatusCode.ERROR
    assert "gen_ai.usage.cost.amount" not in (span.attributes or {})


def test_a_caller_that_stops_reading_early_ends_the_span_once_with_what_arrived(
    base: str, telemetry: Telemetry
) -> None:
    async def call(session: aiohttp.ClientSession) -> bytes:
        async with session.post(f"{base}/hold/v1/chat/completions", json=STREAM_CHAT) as response:
            first = await response.content.readline()
            assert telemetry.finished() == []  # the stream is still open
            return first  # leaving the block releases the response unread

    assert run(call) == STREAM_EVENTS[0].split(b"\n")[0] + b"\n"
    attributes = attributes_of(telemetry)
    assert "error.type" not in attributes
    assert attributes["ai.cost.priced"] is False
    assert attributes["ai.cost.unpriced_reason"] == "no_usage"


def test_a_whole_body_read_that_times_out_fails_the_span(base: str, telemetry: Telemetry) -> None:
    async def call(session: aiohttp.ClientSession) -> None:
        timeout = aiohttp.ClientTimeout(total=0.5)  # google-genai's client.aio timeouts are these
        async with session.post(f"{base}/hold/v1/chat/completions", json=STREAM_CHAT, timeout=timeout) as response:
            await response.read()  # aiohttp closes the response as the read fails

    with pytest.raises(TimeoutError):
        run(call)
    attributes = attributes_of(telemetry)
    assert attributes["error.type"] == "TimeoutError"
    assert "ai.cost.priced" not in attributes  # a failed request, not an unpriced one
    assert telemetry.total("ai.cost.unpriced") == 0


def test_an_error_the_caller_handles_in_the_response_block_is_not_the_requests(base: str, telemetry: Telemetry) -> None:
    async def call(session: aiohttp.ClientSession) -> None:
        async with session.post(f"{base}/hold/v1/chat/completions", json=STREAM_CHAT) as response:
            await response.content.readline()
            raise aiohttp.ClientConnectionError("another request of the caller's failed")

    with pytest.raises(aiohttp.ClientConnectionError):
        run(call)
    attributes = attributes_of(telemetry)
    assert "error.type" not in attributes  # the stream was left unread, as when the caller stops early
    assert attributes["ai.cost.unpriced_reason"] == "no_usage"


@pytest.mark.parametrize("end", ["release", "close"])
def test_a_stream_released_or_closed_unread_ends_its_span(base: str, telemetry: Telemetry, end: str) -> None:
    async def call(session: aiohttp.ClientSession) -> None:
        response = await session.post(f"{base}/hold/v1/chat/completions", json=STREAM_CHAT)
        assert telemetry.finished() == []
        if end == "release":
            response.release()
        else:
            response.close()
        assert len(telemetry.finished()) == 1
        with pytest.raises(aiohttp.ClientConnectionError):
            await response.read()  # as without us: a released body cannot be read

    run(call)
    attributes = attributes_of(telemetry)
    assert "error.type" not in attributes
    assert attributes["ai.cost.unpriced_reason"] == "no_usage"


def test_a_response_that_arrived_whole_is_priced_even_if_never_read(base: str, telemetry: Telemetry) -> None:
    async def call(session: aiohttp.ClientSession) -> None:
        response = await session.post(f"{base}/openai/v1/chat/completions", json=CHAT)
        response.release()

    run(call)
    assert_chat_priced(attributes_of(telemetry))


def test_a_stream_dropped_unread_ends_its_span_once_aiohttp_lets_it_go(base: str, telemetry: Telemetry) -> None:
    """aiohttp keeps an unfinished response alive from its connection until the session closes it
    (without a word to the body's reader); then the garbage collector frees it, and the span ends at
    the next call (or at exit), as for any stream the collector frees."""

    async def call() -> None:
        session = aiohttp.ClientSession()
        response = await session.post(f"{base}/hold/v1/chat/completions", json=STREAM_CHAT)
        await response.content.readline()
        del response
        gc.collect()
        assert telemetry.finished() == []  # still referenced from its open connection
        await session.close()
        await asyncio.sleep(0.05)

    asyncio.run(call())
    gc.collect()
    end_collected()  # what the next call does first
    attributes = attributes_of(telemetry)
    assert "error.type" not in attributes
    assert attributes["ai.cost.unpriced_reason"] == "no_usage"


def test_two_hundred_concurrent_requests_sum_to_the_hand_computed_cost(base: str, telemetry: Telemetry) -> None:
    async def one(session: aiohttp.ClientSession, index: int) -> bytes:
        team = "alpha" if index % 2 else "beta"
        with tags(team=team):
            body = STREAM_CHAT if index % 3 == 0 else CHAT
            async with session.post(f"{base}/openai/v1/chat/completions", json=body) as response:
                return await read_all(response, "iter_any" if index % 5 else "read")

    async def call(session: aiohttp.ClientSession) -> list[bytes]:
        return await asyncio.gather(*(one(session, i) for i in range(200)))

    bodies = run(call)
    assert sum(body == STREAM for body in bodies) == 67  # every third of 200, from 0
    spans = telemetry.finished()
    assert len(spans) == 200
    assert all((s.attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(CHAT_COST) for s in spans)
    # 100 requests per team x $0.00027 = $0.027 each; 200 x $0.00027 = $0.054 in all
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "alpha"}) == pytest.approx(0.027, rel=1e-12)
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "beta"}) == pytest.approx(0.027, rel=1e-12)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(0.054, rel=1e-12)
    assert telemetry.total("ai.cost.tokens", **{"ai.cost.token.type": "input"}) == 200 * 1000


def test_other_hosts_and_paths_are_left_alone(base: str, telemetry: Telemetry) -> None:
    async def call(session: aiohttp.ClientSession) -> tuple[int, int]:
        async with session.get(f"{base}/openai/v1/models") as listed, session.post(f"{base}/elsewhere") as other:
            await listed.read()
        async with session.post(f"{base}/openai/v1/chat/completions", json=CHAT) as priced:
            await priced.read()
        return listed.status, other.status

    assert run(call) == (200, 404)
    assert telemetry.one_span().name == f"chat {MODEL}"  # the chat request only


def test_a_spent_budget_stops_an_aiohttp_call_before_it_is_sent(base: str, telemetry: Telemetry) -> None:
    async def call(session: aiohttp.ClientSession) -> None:
        with budget(requests=1, name="aiohttp"):
            async with session.post(f"{base}/openai/v1/chat/completions", json=CHAT) as response:
                await response.read()
            await session.post(f"{base}/openai/v1/chat/completions", json=CHAT)

    with pytest.raises(BudgetExceeded):
        run(call)
    assert len(telemetry.finished()) == 1


def test_a_session_base_url_and_bytes_data_are_routed(base: str, telemetry: Telemetry) -> None:
    async def call(session: aiohttp.ClientSession) -> Any:
        data = json.dumps(CHAT).encode()
        headers = {"content-type": "application/json"}
        async with session.post("/openai/v1/chat/completions", data=data, headers=headers) as response:
            return await response.json()

    assert run(call, base_url=base) == CHAT_RESPONSE
    assert_chat_priced(attributes_of(telemetry))


def test_instrument_twice_wraps_once_and_uninstrument_restores_aiohttp(base: str, telemetry: Telemetry) -> None:
    patched = [
        (aiohttp.ClientSession, "_request"),
        (aiohttp.StreamReader, "feed_data"),
        (aiohttp.StreamReader, "set_exception"),
        (aiohttp.ClientResponse, "release"),
        (aiohttp.ClientResponse, "close"),
    ]
    wrappers = [owner.__dict__[name] for owner, name in patched]
    assert all(isinstance(wrapper, wrapt.FunctionWrapper) for wrapper in wrappers)
    AICostInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)
    assert [owner.__dict__[name] for owner, name in patched] == wrappers

    async def call(session: aiohttp.ClientSession) -> None:
        async with session.post(f"{base}/openai/v1/chat/completions", json=STREAM_CHAT) as response:
            await response.read()

    run(call)
    assert len(telemetry.finished()) == 1
    AICostInstrumentor().uninstrument()
    assert not any(isinstance(owner.__dict__[name], wrapt.FunctionWrapper) for owner, name in patched)
    run(call)
    assert len(telemetry.finished()) == 1


def test_instrumenting_does_not_import_aiohttp() -> None:
    code = (
        "import sys, otel_ai_cost\n"
        "otel_ai_cost.AICostInstrumentor().instrument()\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
        "import aiohttp\n"
        "assert isinstance(aiohttp.ClientSession.__dict__['_request'], __import__('wrapt').FunctionWrapper)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- the real google-genai SDK's async client, through aiohttp --------------------------------------


def gemini_client(base: str) -> genai.Client:
    client = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=base))
    assert client._api_client._use_aiohttp()  # the async client sends with aiohttp, not httpx
    return client


def test_google_genai_async_generate_content_goes_through_aiohttp(base: str, telemetry: Telemetry) -> None:
    client = gemini_client(base)

    async def call() -> str | None:
        with tags(team="search"):
            response = await client.aio.models.generate_content(
                model="gemini-2.5-flash", contents="why is the sky blue"
            )
        await client.aio.aclose()
        return response.text

    assert asyncio.run(call()) == "Done."
    span = telemetry.one_span()
    attributes = dict(span.attributes or {})
    assert span.name == "generate_content gemini-2.5-flash"
    assert attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (1000, 500)
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 300
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(GEMINI_THINKING_COST)
    assert attributes["ai.cost.team"] == "search"
    assert "why is the sky blue" not in json.dumps(attributes)
    assert "test-key" not in json.dumps(attributes)


def test_google_genai_async_stream_goes_through_aiohttp(base: str, telemetry: Telemetry) -> None:
    client = gemini_client(base)

    async def call() -> str:
        stream = await client.aio.models.generate_content_stream(model="gemini-2.0-flash", contents="write")
        text = "".join([chunk.text or "" async for chunk in stream])
        await client.aio.aclose()
        return text

    assert asyncio.run(call()) == "part 0 part 1 part 2 part 3 part 4 end."
    attributes = attributes_of(telemetry)
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (50, 120)
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(GEMINI_STREAM_COST)


# --- openai's aiohttp client: httpx2 over aiohttp, one request seen by two transports -------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_openai_on_its_aiohttp_client_is_priced_once(base: str, telemetry: Telemetry, stream: bool) -> None:
    """`openai.DefaultAioHttpClient` is an httpx2 client whose transport sends with aiohttp: the httpx2
    hook prices the request, and the aiohttp hook, seeing it sent inside that call, leaves it alone."""

    async def call() -> str:
        async with openai.AsyncOpenAI(
            api_key="sk-test", base_url=f"{base}/openai/v1", http_client=openai.DefaultAioHttpClient()
        ) as client:
            messages: Any = CHAT["messages"]
            if not stream:
                completion = await client.chat.completions.create(model=MODEL, messages=messages)
                return completion.choices[0].message.content or ""
            chunks = await client.chat.completions.create(
                model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
            )
            return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])

    text = asyncio.run(call())
    assert text == ("".join(f"word{i} " for i in range(40)) if stream else "Hello.")
    assert_chat_priced(attributes_of(telemetry))  # one span
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(CHAT_COST)
