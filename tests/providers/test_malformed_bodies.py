"""Untrusted bytes: malformed, truncated and wrong-typed bodies never raise and never give negative counts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_testkit import fixture, parse_stream

from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts, WireProtocol
from otel_ai_cost.providers.openai import AzureOpenAIProtocol, OpenAIProtocol
from otel_ai_cost.usage import Usage

OPENAI = OpenAIProtocol()
ANTHROPIC = AnthropicProtocol()
TOKEN_FIELDS = [name for name in Usage.__dataclass_fields__ if name.endswith("_tokens") or name in ("image_count",)]

ENDPOINTS: list[tuple[WireProtocol, str]] = [
    (OPENAI, "/v1/chat/completions"),
    (OPENAI, "/v1/completions"),
    (OPENAI, "/v1/responses"),
    (OPENAI, "/v1/embeddings"),
    (OPENAI, "/v1/images/generations"),
    (OPENAI, "/v1/images/edits"),
    (AzureOpenAIProtocol(), "/openai/deployments/d/chat/completions"),
    (ANTHROPIC, "/v1/messages"),
]
IDS = [f"{type(p).__name__}:{path}" for p, path in ENDPOINTS]

BAD_BODIES = [
    b"",
    b"   ",
    b"not json",
    b"\xff\xfe\x00{",
    b"null",
    b"[]",
    b'"usage"',
    b"42",
    b"{",
    b'{"usage": ',
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b'{"usage": "lots"}',
    b'{"usage": null, "model": 5, "id": [], "choices": "stop", "data": 3, "status": 7}',
    b'{"usage": [1, 2], "choices": [null, 1, {"finish_reason": 5}, {"finish_reason": "stop", "index": -1}]}',
    b'{"usage": {"prompt_tokens": {"x": 1}, "input_tokens_details": 5, "completion_tokens_details": []}}',
    b'{"type": "message_start", "message": "x"}',
    b'{"error": {"type": "invalid_request_error", "message": "bad"}}',
]


def sane(parsed: ParsedResponse) -> None:
    usage = parsed.usage
    assert isinstance(parsed, ParsedResponse) and isinstance(usage, Usage)
    for name in TOKEN_FIELDS:
        value = getattr(usage, name)
        assert type(value) is int and 0 <= value <= 4_000_000_000, (name, value)
    assert usage.cache_read_tokens + usage.cache_write_tokens + usage.cache_write_1h_tokens <= usage.input_tokens
    assert usage.reasoning_tokens <= usage.output_tokens
    for text in (usage.response_model, parsed.response_id, *parsed.finish_reasons):
        assert text is None or (isinstance(text, str) and 0 < len(text) <= 256)


def any_facts(protocol: WireProtocol, path: str) -> RequestFacts:
    facts = protocol.parse_request("POST", "h", path, "application/json", b'{"model": "m"}')
    assert facts is not None
    return facts


@pytest.mark.parametrize(("protocol", "path"), ENDPOINTS, ids=IDS)
@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_response_bodies(protocol: WireProtocol, path: str, body: bytes) -> None:
    facts = any_facts(protocol, path)
    parsed = protocol.parse_response(facts, body)
    sane(parsed)
    assert not parsed.usage_found
    assert parsed.usage.request_model == "m" and parsed.usage.provider == facts.provider
    stream = parse_stream(protocol.stream_parser(facts), [b"data: " + body.replace(b"\n", b" ") + b"\n\n"])
    sane(stream)
    assert not stream.usage_found


@pytest.mark.parametrize(("protocol", "path"), ENDPOINTS, ids=IDS)
@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_request_bodies(protocol: WireProtocol, path: str, body: bytes) -> None:
    for content_type in ("application/json", "multipart/form-data; boundary=x", None, "multipart/form-data"):
        facts = protocol.parse_request("POST", "h", path, content_type, body)
        assert facts is not None
        assert facts.image_count >= 0 and isinstance(facts.stream, bool)


def test_wrong_typed_request_fields() -> None:
    body = json.dumps(
        {
            "model": 5,
            "stream": "yes",
            "stream_options": "x",
            "n": -3,
            "size": 1024,
            "quality": ["hd"],
            "service_tier": 1,
        }
    ).encode()
    facts = OPENAI.parse_request("POST", "h", "/v1/images/generations", "application/json", body)
    assert facts is not None
    assert (facts.request_model, facts.stream, facts.image_count, facts.image_size, facts.image_quality) == (
        "dall-e-2",  # the API's default when no (valid) model is named
        False,
        1,
        "1024x1024",
        None,
    )
    assert facts.service_tier == "default"


@pytest.mark.parametrize(
    ("value", "read_as"),
    [(-5, 0), (10**12, 0), (12.5, 0), (12.0, 12), (True, 0), ("12", 0), (None, 0), ([], 0), ({}, 0), (float("nan"), 0)],
)
def test_wrong_typed_token_counts(value: object, read_as: int) -> None:
    facts = any_facts(OPENAI, "/v1/chat/completions")
    body = {
        "model": 4,
        "usage": {
            "prompt_tokens": value,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": value},
            "completion_tokens_details": {"reasoning_tokens": value},
        },
    }
    parsed = OPENAI.parse_response(facts, json.dumps(body).encode())
    sane(parsed)
    assert parsed.usage_found and parsed.usage.response_model is None
    assert (parsed.usage.input_tokens, parsed.usage.cache_read_tokens) == (read_as, read_as)
    assert parsed.usage.reasoning_tokens == min(read_as, 3)

    anthropic_facts = any_facts(ANTHROPIC, "/v1/messages")
    body = {"usage": {"input_tokens": value, "cache_read_input_tokens": value, "output_tokens": 3}}
    parsed = ANTHROPIC.parse_response(anthropic_facts, json.dumps(body).encode())
    sane(parsed)
    assert (parsed.usage.input_tokens, parsed.usage.cache_read_tokens) == (2 * read_as, read_as)


def test_parts_larger_than_the_whole_are_clamped() -> None:
    facts = any_facts(OPENAI, "/v1/chat/completions")
    body = {
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 50, "audio_tokens": 70},
            "completion_tokens_details": {"reasoning_tokens": 9},
        }
    }
    usage = OPENAI.parse_response(facts, json.dumps(body).encode()).usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.input_audio_tokens) == (10, 10, 10)
    assert (usage.output_tokens, usage.reasoning_tokens) == (5, 5)


@pytest.mark.parametrize(
    "name", ["openai_chat_stream_usage.sse", "openai_responses_stream.sse", "anthropic_stream.sse"]
)
def test_truncated_streams(name: str) -> None:
    stream = fixture(name)
    protocol: WireProtocol = ANTHROPIC if name.startswith("anthropic") else OPENAI
    path = "/v1/messages" if name.startswith("anthropic") else "/v1/chat/completions"
    facts = any_facts(protocol, path)
    for end in range(0, len(stream), 7):
        sane(parse_stream(protocol.stream_parser(facts), [stream[:end]]))


def test_finish_may_be_called_twice_and_feed_after_finish_is_harmless() -> None:
    facts = any_facts(OPENAI, "/v1/chat/completions")
    parser = OPENAI.stream_parser(facts)
    parser.feed(fixture("openai_chat_stream_usage.sse"))
    first = parser.finish()
    parser.feed(b'data: {"usage": {"prompt_tokens": 999}}\n\n')
    assert parser.finish() == first and first.usage.input_tokens == 1289


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
usage_keys = st.sampled_from(
    [
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
        "input_tokens_details",
        "output_tokens_details",
        "cache_creation",
        "cached_tokens",
        "reasoning_tokens",
        "ephemeral_5m_input_tokens",
        "ephemeral_1h_input_tokens",
        "service_tier",
    ]
)
usage_objects = st.dictionaries(usage_keys, json_values | st.dictionaries(usage_keys, json_values, max_size=4))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(range(len(ENDPOINTS))),
    usage_objects,
    st.dictionaries(st.sampled_from(["model", "id", "choices", "data", "status", "type", "stop_reason"]), json_values),
)
def test_any_json_response(endpoint: int, usage: dict[str, Any], top: dict[str, Any]) -> None:
    protocol, path = ENDPOINTS[endpoint]
    facts = any_facts(protocol, path)
    body = json.dumps({**top, "usage": usage}).encode()
    sane(protocol.parse_response(facts, body))
    events = [
        {"type": "message_start", "message": {**top, "usage": usage}},
        {"type": "message_delta", "delta": top, "usage": usage},
        {"type": "response.completed", "response": {**top, "usage": usage}},
        {**top, "usage": usage},
    ]
    stream = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)
    sane(parse_stream(protocol.stream_parser(facts), [stream]))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(len(ENDPOINTS))), st.binary(max_size=300), st.binary(max_size=300))
def test_any_bytes(endpoint: int, request: bytes, response: bytes) -> None:
    protocol, path = ENDPOINTS[endpoint]
    for content_type in ("application/json", "multipart/form-data; boundary=b", None):
        facts = protocol.parse_request("POST", "h", path, content_type, request)
        assert facts is not None
        sane(protocol.parse_response(facts, response))
        sane(parse_stream(protocol.stream_parser(facts), [response[:100], response[100:]]))
