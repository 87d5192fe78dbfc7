"""The real openai and anthropic SDKs against servers that answer valid HTTP with garbage bodies:
the caller sees exactly what an uninstrumented client sees (the same parsed object, the same bytes,
or the same exception type and message), and every span started is ended.

The uninstrumented run of each body goes through the same client under OpenTelemetry's
`suppress_instrumentation`, which makes our `send` hook step aside at its first line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from fuzzkit import garbage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.instrumentation.utils import suppress_instrumentation
from robustkit import Instrumented, Server, drain, outcome

CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
}
CHAT_CHUNKS = [
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": "a"}}],
    },
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    },
    {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    },
]
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 10, "output_tokens": 2},
}
MESSAGE_EVENTS = [
    ("message_start", {"type": "message_start", "message": {**MESSAGE, "content": [], "stop_reason": None}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
    ("message_stop", {"type": "message_stop"}),
]


def openai_stream(chunks: list[Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks) + b"data: [DONE]\n\n"


def anthropic_stream(events: list[tuple[str, Any]]) -> bytes:
    return b"".join(
        b"event: " + name.encode() + b"\ndata: " + json.dumps(data).encode() + b"\n\n" for name, data in events
    )


# the SDKs' own models warn when garbage is put in them; that is what the caller sees either way
pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")


def first_then_close(stream: Any) -> list[str]:
    """Read one item and stop, as a caller that has what it needs does."""
    try:
        return [repr(item) for item, _ in zip(stream, range(1), strict=False)]
    finally:
        stream.close()


def openai_calls(client: openai.OpenAI) -> dict[str, Callable[[], Any]]:
    messages: Any = [{"role": "user", "content": "hi"}]
    chat = client.chat.completions

    def raw_bytes() -> bytes:
        with chat.with_streaming_response.create(model="gpt-4o-mini", messages=messages, stream=True) as response:
            return b"".join(response.iter_bytes())

    return {
        "parsed": lambda: chat.create(model="gpt-4o-mini", messages=messages),
        "raw": lambda: chat.with_raw_response.create(model="gpt-4o-mini", messages=messages).http_response.content,
        "stream": lambda: drain(
            chat.create(model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True})
        ),
        "stream-bytes": raw_bytes,
        "stream-closed-early": lambda: first_then_close(
            chat.create(model="gpt-4o-mini", messages=messages, stream=True)
        ),
    }


def anthropic_calls(client: anthropic.Anthropic) -> dict[str, Callable[[], Any]]:
    messages: Any = [{"role": "user", "content": "hi"}]
    api = client.messages

    def raw_bytes() -> bytes:
        with api.with_streaming_response.create(
            model="claude-sonnet-4-6", max_tokens=64, messages=messages, stream=True
        ) as response:
            return b"".join(response.iter_bytes())

    def helper() -> Any:
        with api.stream(model="claude-sonnet-4-6", max_tokens=64, messages=messages) as stream:
            return [repr(event) for event in stream], repr(stream.get_final_message())

    return {
        "parsed": lambda: api.create(model="claude-sonnet-4-6", max_tokens=64, messages=messages),
        "raw": lambda: (
            api.with_raw_response.create(
                model="claude-sonnet-4-6", max_tokens=64, messages=messages
            ).http_response.content
        ),
        "stream": lambda: drain(api.create(model="claude-sonnet-4-6", max_tokens=64, messages=messages, stream=True)),
        "stream-helper": helper,
        "stream-bytes": raw_bytes,
    }


def make_client(vendor: str, server: Server) -> Any:
    http = httpx2.Client(transport=httpx2.MockTransport(server))
    if vendor == "openai":
        return openai.OpenAI(api_key="sk-test", http_client=http, max_retries=0)
    return anthropic.Anthropic(api_key="sk-ant-test", http_client=http, max_retries=0)


BODIES = {
    "openai": garbage(CHAT, openai_stream, CHAT_CHUNKS),
    "anthropic": garbage(MESSAGE, anthropic_stream, MESSAGE_EVENTS),
}
statuses = st.sampled_from([200, 200, 200, 201, 400, 404, 429, 500, 529])
content_types = st.sampled_from(
    ["application/json", "text/event-stream", "text/plain", "application/json; charset=utf-8"]
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    st.data(), st.sampled_from(["openai", "anthropic"]), statuses, content_types, st.integers(min_value=1, max_value=64)
)
def test_garbage_bodies_change_nothing_for_the_caller(
    instrumented: Instrumented, data: st.DataObject, vendor: str, status: int, content_type: str, piece: int
) -> None:
    body = data.draw(BODIES[vendor])
    server = Server(status, content_type, body, piece)
    client = make_client(vendor, server)
    calls = openai_calls(client) if vendor == "openai" else anthropic_calls(client)
    instrumented.ledger.reset()
    for name, call in calls.items():
        with suppress_instrumentation():
            expected = outcome(call)
        sent_before = server.requests
        seen = outcome(call)
        assert seen == expected, name
        assert instrumented.ledger.open_spans() == set(), f"{name}: a span was left open"
        assert len(instrumented.ledger.started) == server.requests // 2, name
        assert server.requests - sent_before >= 1
    instrumented.ledger.assert_balanced(server.requests // 2)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.data(), statuses, content_types, st.integers(min_value=1, max_value=64), st.booleans())
def test_garbage_bodies_change_nothing_for_the_async_caller(
    instrumented: Instrumented, data: st.DataObject, status: int, content_type: str, piece: int, close_early: bool
) -> None:
    body = data.draw(BODIES["openai"])
    server = Server(status, content_type, body, piece)
    client = openai.AsyncOpenAI(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)), max_retries=0
    )
    messages: Any = [{"role": "user", "content": "hi"}]

    async def parsed() -> Any:
        return await client.chat.completions.create(model="gpt-4o-mini", messages=messages)

    async def streamed() -> list[str]:
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
        seen = []
        try:
            async for chunk in stream:
                seen.append(repr(chunk))
                if close_early:
                    break
        finally:
            await stream.close()
        return seen

    async def outcome_of(call: Callable[[], Any]) -> tuple[Any, ...]:
        try:
            return ("returned", repr(await call()))
        except Exception as exc:
            return ("raised", type(exc).__qualname__, str(exc))

    async def run() -> None:
        for call in (parsed, streamed):
            with suppress_instrumentation():
                expected = await outcome_of(call)
            assert await outcome_of(call) == expected
            assert instrumented.ledger.open_spans() == set()

    instrumented.ledger.reset()
    asyncio.run(run())
    instrumented.ledger.assert_balanced(server.requests // 2)


def test_an_error_event_inside_a_stream_ends_the_span(instrumented: Instrumented) -> None:
    """An SDK raising from the middle of a stream (an `error` event) leaves no span open."""
    body = anthropic_stream(
        [
            MESSAGE_EVENTS[0],
            ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ]
    )
    server = Server(200, "text/event-stream", body, 16)
    calls = anthropic_calls(make_client("anthropic", server))
    for name in ("stream", "stream-helper"):
        seen = outcome(calls[name])
        with suppress_instrumentation():
            assert outcome(calls[name]) == seen
        assert seen[:2] == ("raised", "APIStatusError"), seen
    instrumented.ledger.assert_balanced(2)


def test_an_async_stream_left_early_closes_what_is_under_it_in_the_callers_task(instrumented: Instrumented) -> None:
    """`aclosing(response.aiter_raw())` and a `break`: httpx closes the transport's generator right
    away, in the caller's task. Our tee sits between them, and must not leave it to the garbage
    collector's hook, which would close it later, from another task."""
    events: list[tuple[str, str]] = []
    chunk = b'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[]}\n\n'

    class TransportStream(httpx2.AsyncByteStream):
        async def __aiter__(self) -> Any:
            try:
                for _ in range(3):
                    await asyncio.sleep(0)
                    yield chunk
            finally:
                events.append(("transport generator closed", current_task_name()))

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=TransportStream())

    def current_task_name() -> str:
        task = asyncio.current_task()
        return "caller" if task is not None and task.get_name() == "caller" else "another task"

    async def leave_early() -> None:
        async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as client:
            url = "https://api.openai.com/v1/chat/completions"
            async with client.stream("POST", url, json={"model": "gpt-4o-mini", "stream": True}) as response:
                async with contextlib.aclosing(response.aiter_raw()) as raw:
                    async for _ in raw:
                        break
                events.append(("left", current_task_name()))

    def run() -> list[tuple[str, str]]:
        events.clear()
        gc.disable()  # the hook would run at a collection: none while the order is watched
        try:

            async def main() -> None:
                await asyncio.create_task(leave_early(), name="caller")
                gc.collect()
                await asyncio.sleep(0.01)

            asyncio.run(main())
        finally:
            gc.enable()
        return list(events)

    with suppress_instrumentation():
        uninstrumented = run()
    assert uninstrumented == [("transport generator closed", "caller"), ("left", "caller")]
    assert run() == uninstrumented
    instrumented.ledger.assert_balanced(1)
