"""The real google-genai SDK (over httpx2.MockTransport) answered with garbage: mutated, truncated and
non-JSON `generateContent` bodies and `streamGenerateContent?alt=sse` streams, with error statuses
and wrong content types, delivered in pieces. `generate_content` and `generate_content_stream`
(read whole, or closed after the first chunk; sync and async) give the caller exactly what they
give with the instrumentation suppressed; every instrumented request starts one span and ends it
once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from fuzzkit import garbage
from google import genai
from google.genai import types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.instrumentation.utils import suppress_instrumentation
from robustkit import Instrumented, Server, drain, outcome
from test_google_genai_sdk import STREAM_USAGE, generate_response

MODEL = "gemini-2.5-flash"
RESPONSE = generate_response(MODEL, {"promptTokenCount": 1000, "candidatesTokenCount": 200, "totalTokenCount": 1200})
CHUNKS = [
    {**generate_response(MODEL, {"promptTokenCount": 50, "totalTokenCount": 50}, f"part {i} "), "candidates": []}
    for i in range(3)
] + [generate_response(MODEL, STREAM_USAGE, "end.")]

# the SDK's own models warn when garbage is put in them; that is what the caller sees either way
pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")


def gemini_stream(chunks: list[Any]) -> bytes:
    """`streamGenerateContent?alt=sse` as the Gemini API writes it (CRLF line ends)."""
    return b"".join(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n" for chunk in chunks)


def first_then_close(stream: Any) -> list[str]:
    try:
        return [repr(next(stream, None))]
    finally:
        stream.close()


def genai_calls(client: genai.Client) -> dict[str, Callable[[], Any]]:
    models, aio = client.models, client.aio.models

    async def aio_stream() -> list[str]:
        return [repr(chunk) async for chunk in await aio.generate_content_stream(model=MODEL, contents="hi")]

    return {
        "generate_content": lambda: models.generate_content(model=MODEL, contents="hi"),
        "stream": lambda: drain(models.generate_content_stream(model=MODEL, contents="hi")),
        "stream-closed-early": lambda: first_then_close(models.generate_content_stream(model=MODEL, contents="hi")),
        "aio-generate_content": lambda: asyncio.run(aio.generate_content(model=MODEL, contents="hi")),
        "aio-stream": lambda: asyncio.run(aio_stream()),
    }


class Answering:
    """The transport's handler: whichever server the current example set."""

    server = Server(200, "application/json", b"{}", 64)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        return self.server(request)


@pytest.fixture(scope="module")
def answering() -> tuple[genai.Client, Answering]:
    """One client for all examples: building one loads the CA store (tens of ms)."""
    handler = Answering()
    client = genai.Client(
        api_key="test-key",
        http_options=types.HttpOptions(
            httpx_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
            httpx_async_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
        ),
    )
    return client, handler


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    garbage(RESPONSE, gemini_stream, CHUNKS),
    st.sampled_from([200, 200, 200, 400, 429, 500, 503]),
    st.sampled_from(["application/json", "text/event-stream", "text/plain"]),
    st.integers(min_value=1, max_value=64),
)
def test_garbage_answers_change_nothing_for_a_genai_caller(
    instrumented: Instrumented,
    answering: tuple[genai.Client, Answering],
    body: bytes,
    status: int,
    content_type: str,
    piece: int,
) -> None:
    client, handler = answering
    server = handler.server = Server(status, content_type, body, piece)
    instrumented.ledger.reset()
    for name, call in genai_calls(client).items():
        with suppress_instrumentation():
            expected = outcome(call)
        sent_before = server.requests
        assert outcome(call) == expected, name
        assert server.requests > sent_before, name
        assert instrumented.ledger.open_spans() == set(), f"{name}: a span was left open"
    instrumented.ledger.assert_balanced(server.requests // 2)
