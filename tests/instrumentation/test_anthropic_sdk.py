"""The real anthropic SDK (2.x, on httpx2) through MockTransport.

claude-sonnet-4-6 (USD per 1M tokens): input 3, output 15, cache read 0.30, cache write 5 min
3.75, 1 h 6.00.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import anthropic
import httpx2
import pytest

from otel_ai_cost import tags

if TYPE_CHECKING:
    from .conftest import Telemetry

MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "Clause 7 limits liability."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 500,
        "cache_creation_input_tokens": 4000,
        "cache_read_input_tokens": 12000,
        "output_tokens": 650,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 4000},
        "service_tier": "standard",
    },
}
# input on the wire excludes cache tokens: total input 500 + 4000 + 12000 = 16500
# 500 x 3 + 12000 x 0.30 + 4000 x 6 + 650 x 15 = 1500 + 3600 + 24000 + 9750 = 38850 per 1M
MESSAGE_COST = 0.03885


def stream_body() -> bytes:
    start = {
        **MESSAGE,
        "content": [],
        "stop_reason": None,
        "usage": {
            "input_tokens": 500,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 1,
        },
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        *[
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"w{i} "}},
            )
            for i in range(25)
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 200},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {name}\ndata: {json.dumps(e)}\n\n".encode() for name, e in events)


# 500 x 3 + 200 x 15 = 1500 + 3000 = 4500 per 1M
STREAM_COST = 0.0045


class Chunked(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.pieces = [body[i : i + 11] for i in range(0, len(body), 11)]

    def __iter__(self) -> Any:
        yield from self.pieces

    async def __aiter__(self) -> Any:
        for piece in self.pieces:
            yield piece


def respond(request: Any) -> httpx2.Response:
    if json.loads(request.content).get("stream"):
        return httpx2.Response(200, stream=Chunked(stream_body()), headers={"content-type": "text/event-stream"})
    return httpx2.Response(200, json=MESSAGE)


def client() -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )


def test_messages_create_with_cache_writes(telemetry: Telemetry) -> None:
    with tags(team="legal", feature="contract-review"):
        message = client().messages.create(
            model="claude-sonnet-4-6", max_tokens=1024, messages=[{"role": "user", "content": "review"}]
        )
    assert message.usage.cache_read_input_tokens == 12000
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.usage.input_tokens"] == 16500
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 12000
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 4000
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(MESSAGE_COST)
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "legal"}) == pytest.approx(MESSAGE_COST)


def test_messages_stream_helper(telemetry: Telemetry) -> None:
    with tags(team="legal", feature="summaries"):
        with client().messages.stream(
            model="claude-sonnet-4-6", max_tokens=512, messages=[{"role": "user", "content": "sum up"}]
        ) as stream:
            text = "".join(stream.text_stream)
    assert text.startswith("w0 w1")
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 500 and attrs["gen_ai.usage.output_tokens"] == 200
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)


def test_async_stream(telemetry: Telemetry) -> None:
    async def main() -> None:
        async def handle(request: Any) -> httpx2.Response:
            return respond(request)

        c = anthropic.AsyncAnthropic(
            api_key="sk-ant-test", max_retries=0, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handle))
        )
        with tags(team="a", feature="b"):
            stream = await c.messages.create(
                model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}], stream=True
            )
            async for _ in stream:
                pass

    asyncio.run(main())
    assert dict(telemetry.one_span().attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)


def test_overloaded_529_passes_through(telemetry: Telemetry) -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    c = anthropic.Anthropic(
        api_key="sk-ant-test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(529, json=body))),
    )
    with pytest.raises(anthropic.APIStatusError) as raised:
        c.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == 529
    assert dict(telemetry.one_span().attributes or {})["error.type"] == "529"


def test_retries_are_one_span_per_attempt(telemetry: Telemetry) -> None:
    attempts: list[int] = []

    def flaky(request: Any) -> httpx2.Response:
        attempts.append(1)
        if len(attempts) == 1:
            return httpx2.Response(500, json={"type": "error", "error": {"type": "api_error", "message": "x"}})
        return httpx2.Response(200, json=MESSAGE)

    c = anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=1, http_client=httpx2.Client(transport=httpx2.MockTransport(flaky))
    )
    c.with_options(timeout=5).messages.create(
        model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}]
    )
    spans = telemetry.finished()
    assert len(spans) == 2
    assert [dict(s.attributes or {}).get("error.type") for s in spans] == ["500", None]
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(MESSAGE_COST)


FAST_MESSAGE = {
    **MESSAGE,
    "model": "claude-opus-5",
    "usage": {
        "input_tokens": 10000,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 2000,
        "service_tier": "standard",
        "speed": "fast",
    },
}
# claude-opus-5 in fast mode (genai-prices, from Anthropic's fast mode pricing): input 10, output 50
# USD per 1M, twice the standard 5 and 25. 10000 x 10 + 2000 x 50 = 100000 + 100000 per 1M = $0.20
FAST_COST = 0.20


def fast_client(message: dict[str, Any]) -> anthropic.Anthropic:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=message))
    return anthropic.Anthropic(api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=transport))


def test_fast_mode_is_priced_at_its_premium(telemetry: Telemetry) -> None:
    message = fast_client(FAST_MESSAGE).beta.messages.create(
        model="claude-opus-5",
        max_tokens=4096,
        speed="fast",
        betas=["fast-mode-2026-02-01"],
        messages=[{"role": "user", "content": "refactor this module"}],
    )
    assert message.usage.speed == "fast"
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(FAST_COST)
    assert attrs["ai.cost.commitment"] == "priority" and attrs["ai.cost.estimated"] is False


def test_fast_mode_bills_the_speed_the_response_says_it_ran_at(telemetry: Telemetry) -> None:
    standard = {**FAST_MESSAGE, "usage": {**FAST_MESSAGE["usage"], "speed": "standard"}}  # type: ignore[dict-item]
    fast_client(standard).beta.messages.create(
        model="claude-opus-5",
        max_tokens=4096,
        speed="fast",
        betas=["fast-mode-2026-02-01"],
        messages=[{"role": "user", "content": "refactor this module"}],
    )
    # the standard price: 10000 x 5 + 2000 x 25 = 50000 + 50000 per 1M = $0.10
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.10)
    assert attrs["ai.cost.commitment"] == "on_demand"


def test_fast_mode_asked_for_is_billed_when_the_response_does_not_say_the_speed(telemetry: Telemetry) -> None:
    usage = {key: value for key, value in FAST_MESSAGE["usage"].items() if key != "speed"}  # type: ignore[attr-defined]
    fast_client({**FAST_MESSAGE, "usage": usage}).beta.messages.create(
        model="claude-opus-5",
        max_tokens=4096,
        speed="fast",
        betas=["fast-mode-2026-02-01"],
        messages=[{"role": "user", "content": "refactor this module"}],
    )
    assert dict(telemetry.one_span().attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(FAST_COST)
