"""An Anthropic stream that ends in an `error` event, or in a network error, after `message_start`,
through the real SDK.

The HTTP status is 200: the error comes inside the stream. The call is recorded as failed
(`error.type` = the error's type, span status ERROR) and the usage already reported is still
recorded and priced: Anthropic does not document whether such a request is billed, so the input
`message_start` reported is counted rather than dropped.
claude-sonnet-4-6 (USD per 1M tokens): input 3, output 15.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anthropic
import httpx2
import pytest
from opentelemetry.trace import StatusCode

if TYPE_CHECKING:
    from .conftest import Telemetry

START = {
    "type": "message_start",
    "message": {
        "id": "msg_01Overload",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 2000, "output_tokens": 1},
    },
}
ERROR = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
# 2000 x 3 + 1 x 15 = 6000 + 15 = 6015 per 1M
REPORTED_COST = 0.006015


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def client(body: bytes) -> anthropic.Anthropic:
    def respond(request: Any) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )


def test_error_event_fails_the_call_and_keeps_the_reported_usage(telemetry: Telemetry) -> None:
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Once"}}
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    stream = client(sse(START, block, delta, ERROR)).messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "story"}], stream=True
    )
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        for _ in stream:
            pass
    stream.close()
    span = telemetry.one_span()
    attrs = dict(span.attributes or {})
    assert span.status.status_code == StatusCode.ERROR
    assert attrs["error.type"] == "overloaded_error"
    assert attrs["gen_ai.response.id"] == "msg_01Overload"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (2000, 1)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(REPORTED_COST)
    assert telemetry.total("ai.cost.requests", **{"error.type": "overloaded_error"}) == 1
    assert telemetry.total("ai.cost.requests") == 1
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(REPORTED_COST)


def test_error_event_before_any_usage_is_a_failed_call_not_an_unpriced_one(telemetry: Telemetry) -> None:
    """As an HTTP error: no cost, and not counted in ai.cost.unpriced (which alerts on models without a price)."""
    stream = client(sse(ERROR)).messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(anthropic.APIStatusError):
        for _ in stream:
            pass
    stream.close()
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["error.type"] == "overloaded_error"
    assert "ai.cost.priced" not in attrs and "gen_ai.usage.cost.amount" not in attrs
    assert telemetry.total("gen_ai.client.cost") == 0 and telemetry.total("ai.cost.unpriced") == 0
    assert telemetry.total("ai.cost.requests", **{"error.type": "overloaded_error"}) == 1


def test_a_completed_stream_has_no_error_type(telemetry: Telemetry) -> None:
    stop = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}
    for _ in client(sse(START, stop, {"type": "message_stop"})).messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "x"}], stream=True
    ):
        pass
    span = telemetry.one_span()
    assert span.status.status_code != StatusCode.ERROR
    assert "error.type" not in dict(span.attributes or {})


class CutOff(httpx2.SyncByteStream):
    """A body that breaks after its first bytes, as a connection lost or a read timeout does."""

    def __init__(self, head: bytes, error: Exception) -> None:
        self.head, self.error = head, error

    def __iter__(self) -> Any:
        yield self.head
        raise self.error


@pytest.mark.parametrize(
    "error", [httpx2.ReadTimeout("timed out"), httpx2.RemoteProtocolError("peer closed connection")]
)
def test_a_stream_cut_by_a_network_error_keeps_the_reported_usage(telemetry: Telemetry, error: Exception) -> None:
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Once"}}
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}

    def respond(request: Any) -> httpx2.Response:
        body = CutOff(sse(START, block, delta), error)
        return httpx2.Response(200, stream=body, headers={"content-type": "text/event-stream"})

    cut = anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )
    with pytest.raises(type(error)):  # the caller gets its own exception, unchanged
        with cut.messages.stream(
            model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "story"}]
        ) as stream:
            for _ in stream.text_stream:
                pass
    span = telemetry.one_span()
    attrs = dict(span.attributes or {})
    assert span.status.status_code == StatusCode.ERROR
    assert attrs["error.type"] == type(error).__name__
    # the input message_start reported was sent and read: 2000 x 3 + 1 x 15 = 6015 per 1M
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (2000, 1)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(REPORTED_COST)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(REPORTED_COST)


def test_a_stream_cut_before_any_usage_fails_without_a_cost(telemetry: Telemetry) -> None:
    def respond(request: Any) -> httpx2.Response:
        body = CutOff(b"event: ping\ndata: {}\n\n", httpx2.ReadTimeout("timed out"))
        return httpx2.Response(200, stream=body, headers={"content-type": "text/event-stream"})

    cut = anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )
    with pytest.raises(httpx2.ReadTimeout):
        for _ in cut.messages.create(
            model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "x"}], stream=True
        ):
            pass
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["error.type"] == "ReadTimeout" and "ai.cost.priced" not in attrs
    assert telemetry.total("ai.cost.unpriced") == 0  # a failed request is not an unpriced model
