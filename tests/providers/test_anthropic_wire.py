"""Anthropic Messages on recorded response shapes (fixtures/anthropic_*), exact token counts.

Anthropic's input_tokens leaves the cache tokens out; Usage.input_tokens puts them in.
"""

from __future__ import annotations

import json

import pytest
from wire_testkit import assert_every_chunking, facts_for, fixture, parse_stream

from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.base import ParsedResponse
from otel_ai_cost.usage import Usage

ANTHROPIC = AnthropicProtocol()
HOST = "api.anthropic.com"


def test_message_with_cache_read_and_5m_and_1h_cache_writes() -> None:
    facts = facts_for(ANTHROPIC, "/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 1024}, host=HOST)
    assert (facts.provider, facts.operation, facts.request_model, facts.stream) == (
        "anthropic",
        "chat",
        "claude-sonnet-4-5",
        False,
    )

    parsed = ANTHROPIC.parse_response(facts, fixture("anthropic_message_cache.json"))

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="anthropic",
            request_model="claude-sonnet-4-5",
            response_model="claude-sonnet-4-5-20250929",
            input_tokens=15254,  # 24 + 12040 cache read + 3190 cache creation
            cache_read_tokens=12040,
            cache_write_tokens=1180,
            cache_write_1h_tokens=2010,
            output_tokens=512,
        ),
        response_id="msg_01XFDUDYJgAACzvnptvVoYEL",
        finish_reasons=("end_turn",),
    )


def test_stream() -> None:
    facts = facts_for(ANTHROPIC, "/v1/messages", {"model": "claude-haiku-4-5", "stream": True}, host=HOST)
    assert facts.stream
    stream = fixture("anthropic_stream.sse")

    parsed = parse_stream(ANTHROPIC.stream_parser(facts), [stream])

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="anthropic",
            request_model="claude-haiku-4-5",
            response_model="claude-haiku-4-5-20251001",
            input_tokens=4056,  # 472 + 2048 cache read + 1536 cache creation
            cache_read_tokens=2048,
            cache_write_1h_tokens=1536,
            output_tokens=89,  # message_delta's cumulative count, not message_start's 2
        ),
        response_id="msg_01Bq9w3Vd8kP5rN7sT2uX4yZ",
        finish_reasons=("end_turn",),
    )
    assert_every_chunking(ANTHROPIC, facts, stream, parsed)


def _event(kind: str, body: dict[str, object], named: bool = True) -> bytes:
    data = json.dumps({"type": kind, **body})
    return (f"event: {kind}\n" if named else "").encode() + f"data: {data}\n\n".encode()


def test_message_delta_with_updated_input_and_cache_counts() -> None:
    """Newer API versions repeat input/cache counts in message_delta; the latest non-null wins."""
    facts = facts_for(ANTHROPIC, "/v1/messages", {"model": "claude-opus-4-1", "stream": True}, host=HOST)
    start_usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "output_tokens": 1,
    }
    start = {"message": {"id": "msg_1", "model": "claude-opus-4-1-20250805", "usage": start_usage}}
    delta_usage = {
        "input_tokens": 2510,
        "cache_read_input_tokens": None,
        "cache_creation_input_tokens": 4000,
        "output_tokens": 700,
    }
    stream = _event("message_start", start) + _event(
        "message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": delta_usage}
    )
    parsed = parse_stream(ANTHROPIC.stream_parser(facts), [stream])
    assert parsed.usage == Usage(
        provider="anthropic",
        request_model="claude-opus-4-1",
        response_model="claude-opus-4-1-20250805",
        input_tokens=6510,  # 2510 + 0 + 4000
        cache_write_tokens=4000,  # no cache_creation breakdown: 5 minute writes
        output_tokens=700,
    )
    assert parsed.finish_reasons == ("tool_use",)
    # without `event:` lines (some proxies) the type is read from the data
    bare = _event("message_start", start, named=False) + _event(
        "message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": delta_usage}, named=False
    )
    assert parse_stream(ANTHROPIC.stream_parser(facts), [bare]) == parsed


def test_stream_cut_after_message_start_keeps_the_input_usage() -> None:
    facts = facts_for(ANTHROPIC, "/v1/messages", {"model": "claude-sonnet-4-5", "stream": True}, host=HOST)
    stream = fixture("anthropic_stream.sse")
    cut = stream[: stream.index(b"event: message_delta")]
    parsed = parse_stream(ANTHROPIC.stream_parser(facts), [cut])
    assert parsed.usage_found and parsed.finish_reasons == ()
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (4056, 2)


def test_error_event_mid_stream_is_ignored() -> None:
    facts = facts_for(ANTHROPIC, "/v1/messages", {"model": "claude-sonnet-4-5", "stream": True}, host=HOST)
    stream = fixture("anthropic_stream.sse")
    error = b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    parsed = parse_stream(ANTHROPIC.stream_parser(facts), [stream[:600], error])
    assert parsed.usage.input_tokens == 4056


@pytest.mark.parametrize(("said", "tier"), [("standard", "default"), ("priority", "priority"), ("batch", "batch")])
def test_service_tier(said: str, tier: str) -> None:
    facts = facts_for(ANTHROPIC, "/v1/messages", {"model": "claude-sonnet-4-5"}, host=HOST)
    body = {
        "model": "claude-sonnet-4-5-20250929",
        "usage": {"input_tokens": 5, "output_tokens": 9, "service_tier": said},
    }
    assert ANTHROPIC.parse_response(facts, json.dumps(body).encode()).usage.service_tier == tier


def test_cache_creation_breakdown_never_exceeds_the_total() -> None:
    facts = facts_for(ANTHROPIC, "/v1/messages", {"model": "claude-sonnet-4-5"}, host=HOST)
    usage = {
        "input_tokens": 5,
        "cache_creation_input_tokens": 100,
        "cache_creation": {"ephemeral_5m_input_tokens": 70, "ephemeral_1h_input_tokens": 300},
        "output_tokens": 1,
    }
    parsed = ANTHROPIC.parse_response(facts, json.dumps({"usage": usage}).encode())
    assert (parsed.usage.input_tokens, parsed.usage.cache_write_tokens, parsed.usage.cache_write_1h_tokens) == (
        105,
        0,
        100,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/messages/count_tokens"),
        ("POST", "/v1/messages/batches"),
        ("GET", "/v1/messages/batches/msgbatch_01/results"),
        ("GET", "/v1/models"),
        ("GET", "/v1/messages"),
    ],
)
def test_not_billable(method: str, path: str) -> None:
    assert ANTHROPIC.parse_request(method, HOST, path, "application/json", b'{"model": "claude-sonnet-4-5"}') is None


def test_beta_query_string() -> None:
    facts = ANTHROPIC.parse_request("POST", HOST, "/v1/messages?beta=true", "application/json", b'{"model": "m"}')
    assert facts is not None and facts.request_model == "m"
