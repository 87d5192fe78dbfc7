"""Every wire parser and the SSE reader under hostile input: recorded bodies with values replaced by
wrong-typed, negative, huge and non-finite ones, truncated and garbage bytes, 100k-deep nesting,
multi-megabyte bodies, and recorded streams in every framing the format allows, cut at every byte.

Properties: nothing raises; token counts are non-negative ints whose parts fit in their wholes; a
stream parses to the same ParsedResponse however it is chunked.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fuzzkit import (
    HOSTILE_VALUES,
    Endpoint,
    assert_sane,
    cut,
    endpoints,
    feed,
    fixture,
    fixture_names,
    framings,
    mutate,
    protocol_classes,
    recorded_streams,
    sse_events,
    write_sse,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_ai_cost.providers import _json, bedrock
from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.multipart import MAX_VALUE, form_fields
from otel_ai_cost.providers.openai import AzureOpenAIProtocol, OpenAIProtocol
from otel_ai_cost.providers.routing import Router, parse_endpoint, parse_endpoint_map, route
from otel_ai_cost.providers.sse import SSEReader

ENDPOINTS = endpoints()
STREAMS = recorded_streams()
JSON_FIXTURES = fixture_names(".json")
SSE_FIXTURES = fixture_names(".sse")
ONE_PER_PROTOCOL = tuple({type(e.protocol): e for e in reversed(ENDPOINTS)}.values())
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
hostile = st.sampled_from(HOSTILE_VALUES) | json_values
mutations = st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), hostile), min_size=1, max_size=4)
offsets = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=12)


def test_every_known_protocol_and_endpoint_is_discovered() -> None:
    """Discovery must not silently shrink what is fuzzed."""
    classes = set(protocol_classes())
    assert {OpenAIProtocol, AzureOpenAIProtocol, AnthropicProtocol} <= classes
    assert {kind.__name__ for kind in classes} >= {"GeminiProtocol", "StabilityProtocol", "BFLProtocol"}
    paths = {(type(e.protocol), e.path.split("?")[0]) for e in ENDPOINTS}
    assert (OpenAIProtocol, "/v1/images/edits") in paths and (AnthropicProtocol, "/v1/messages") in paths
    assert (AzureOpenAIProtocol, "/openai/deployments/gpt-4o/chat/completions") in paths
    assert len(ENDPOINTS) >= 17
    assert {name for name, _ in STREAMS} >= {
        "anthropic_stream.sse",
        "azure_chat_stream_v1.sse",
        "gemini_stream.sse",
        "openai_chat_stream_usage.sse",
        "openai_responses_stream.sse",
    }


def _stream_of(data: Any) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


@FUZZ
@given(st.sampled_from(ENDPOINTS), st.sampled_from(JSON_FIXTURES), mutations, offsets)
def test_recorded_responses_with_hostile_values(
    endpoint: Endpoint, name: str, choices: list[tuple[int, Any]], cuts: list[int]
) -> None:
    body = json.dumps(mutate(json.loads(fixture(name)), choices)).encode()
    facts = endpoint.facts()
    assert_sane(endpoint.protocol.parse_response(facts, body))
    stream = _stream_of(json.loads(body))
    whole = feed(endpoint.protocol.stream_parser(facts), [stream])
    assert_sane(whole)
    assert feed(endpoint.protocol.stream_parser(facts), cut(stream, cuts)) == whole


@FUZZ
@given(st.sampled_from(STREAMS), st.integers(min_value=0, max_value=200), mutations, offsets)
def test_recorded_streams_with_a_hostile_event(
    pair: tuple[str, Endpoint], event: int, choices: list[tuple[int, Any]], cuts: list[int]
) -> None:
    name, endpoint = pair
    events = sse_events(fixture(name))
    index = event % len(events)
    event_name, data = events[index]
    if data.startswith(b"{"):
        events[index] = (event_name, json.dumps(mutate(json.loads(data), choices)).encode())
    stream = write_sse(events, multiline=False)
    facts = endpoint.facts()
    whole = feed(endpoint.protocol.stream_parser(facts), [stream])
    assert_sane(whole)
    assert feed(endpoint.protocol.stream_parser(facts), cut(stream, cuts)) == whole
    assert_sane(endpoint.protocol.parse_response(facts, stream))  # an SSE body where JSON was expected


@FUZZ
@given(st.sampled_from(ENDPOINTS), st.binary(max_size=600), st.binary(max_size=600), offsets)
def test_garbage_bytes(endpoint: Endpoint, request: bytes, response: bytes, cuts: list[int]) -> None:
    for content_type in ("application/json", "multipart/form-data; boundary=b", "text/plain", None):
        facts = endpoint.protocol.parse_request("POST", endpoint.host, endpoint.path, content_type, request)
        if facts is None:
            continue
        assert_sane(endpoint.protocol.parse_response(facts, response))
        whole = feed(endpoint.protocol.stream_parser(facts), [response])
        assert_sane(whole)
        assert feed(endpoint.protocol.stream_parser(facts), cut(response, cuts)) == whole


@FUZZ
@given(
    st.sampled_from(ENDPOINTS),
    st.dictionaries(
        st.sampled_from(["model", "n", "size", "quality", "stream", "stream_options", "service_tier", "contents"]),
        hostile,
    ),
)
def test_requests_with_hostile_values(endpoint: Endpoint, fields: dict[str, Any]) -> None:
    body = json.dumps(fields).encode()
    facts = endpoint.protocol.parse_request("POST", endpoint.host, endpoint.path, "application/json", body)
    assert facts is not None  # billable by its path; the body only adds facts
    assert type(facts.image_count) is int and 0 <= facts.image_count <= 10_000
    assert type(facts.stream) is bool and type(facts.stream_usage_requested) is bool
    assert facts.request_model is None or 0 < len(facts.request_model) <= 256
    assert_sane(endpoint.protocol.parse_response(facts, b'{"usage": {"prompt_tokens": 1}}'))


@FUZZ
@given(
    st.sampled_from(ENDPOINTS),
    st.dictionaries(st.sampled_from(["model", "n", "size", "quality", "stream"]), st.text(max_size=300)),
)
def test_multipart_requests_with_any_field_text(endpoint: Endpoint, fields: dict[str, str]) -> None:
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="' + key.encode() + b'"\r\n\r\n' + value.encode() + b"\r\n"
        for key, value in fields.items()
    )
    body = parts + b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG\r\n--b--\r\n'
    facts = endpoint.protocol.parse_request(
        "POST", endpoint.host, endpoint.path, "multipart/form-data; boundary=b", body
    )
    assert facts is not None
    assert type(facts.image_count) is int and 0 <= facts.image_count <= 10_000


def test_unicode_digits_in_an_image_count_are_not_a_crash() -> None:
    """Regression: "²".isdigit() is True but int("²") raises; n="²" made parse_request raise."""
    for value in ("²", "①", "٣"):
        body = json.dumps({"model": "dall-e-3", "n": value}).encode()
        facts = OpenAIProtocol().parse_request(
            "POST", "api.openai.com", "/v1/images/generations", "application/json", body
        )
        assert facts is not None and facts.image_count == 1
    assert _json.count("²", 1) == 1 and _json.count("2", 1) == 2


def test_gemini_modality_of_a_wrong_type_is_not_a_crash() -> None:
    """Regression (found by test_recorded_streams_with_a_hostile_event): a modality that is a list
    or an object is unhashable, and `modality in frozenset` raised TypeError from the parser."""
    endpoint = next(e for e in ENDPOINTS if type(e.protocol).__name__ == "GeminiProtocol")
    for modality in ([], {}, ["AUDIO"], 5, None):
        usage = {
            "promptTokenCount": 10,
            "candidatesTokenCount": 2,
            "promptTokensDetails": [{"modality": modality, "tokenCount": 10}],
        }
        body = json.dumps({"candidates": [], "usageMetadata": usage}).encode()
        for parsed in (
            endpoint.protocol.parse_response(endpoint.facts(), body),
            feed(endpoint.protocol.stream_parser(endpoint.facts()), [b"data: " + body + b"\r\n\r\n"]),
        ):
            assert_sane(parsed)
            assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (10, 2)


@pytest.mark.parametrize("endpoint", ONE_PER_PROTOCOL, ids=[e.id for e in ONE_PER_PROTOCOL])
def test_deep_nesting_and_huge_bodies(endpoint: Endpoint) -> None:
    deep_array = b"[" * 100_000
    deep_object = b'{"usage": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
    for body in (deep_array, deep_object, b'{"model": ' + deep_array):
        facts = endpoint.protocol.parse_request("POST", endpoint.host, endpoint.path, "application/json", body)
        assert facts is not None
        assert_sane(endpoint.protocol.parse_response(facts, body))
        assert_sane(feed(endpoint.protocol.stream_parser(facts), [b"data: " + body + b"\n\n"]))
        assert_sane(feed(endpoint.protocol.stream_parser(facts), [b"data: " + body[:70_000], body[70_000:] + b"\n"]))
    facts = endpoint.facts()
    # 4 MB of content before the usage: read whole, and streamed as one event past the SSE cap
    huge = json.dumps(
        {
            "id": "x",
            "model": "m",
            "choices": [{"text": "y" * (4 << 20)}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7},
        }
    ).encode()
    assert_sane(endpoint.protocol.parse_response(facts, huge))
    stream = b"data: " + huge + b"\n\n"
    assert_sane(
        feed(
            endpoint.protocol.stream_parser(facts), [stream[i : i + (1 << 16)] for i in range(0, len(stream), 1 << 16)]
        )
    )
    many = b"".join(b'data: {"choices": [{"delta": {"content": "z"}}]}\n\n' for _ in range(5_000))
    assert_sane(feed(endpoint.protocol.stream_parser(facts), [many]))


def test_big_openai_usage_is_still_read_past_the_caps() -> None:
    """Not only no crash: usage after 4 MB of content is read."""
    endpoint = next(e for e in ENDPOINTS if type(e.protocol) is OpenAIProtocol and e.path == "/v1/chat/completions")
    facts = endpoint.facts()
    body = {
        "id": "c",
        "model": "gpt-4o-mini",
        "choices": [{"message": {"content": "y" * (4 << 20)}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7},
    }
    parsed = endpoint.protocol.parse_response(facts, json.dumps(body).encode())
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (5, 7)


def split_points(stream: bytes) -> list[int]:
    """Every offset of a stream up to 1 KB. In a longer one, every offset within 2 bytes of a line
    break and every 37th elsewhere: inside a line every cut is alike to the reader (it joins the
    line before a parser sees it); the cuts that differ are at line ends and field names. (The
    tests in tests/providers cut the LF, CRLF and CR framings at every offset.)"""
    if len(stream) <= 1024:
        return list(range(1, len(stream)))
    near_breaks = {
        offset + delta for offset, byte in enumerate(stream) if byte in b"\r\n" for delta in (-2, -1, 0, 1, 2)
    }
    return sorted(offset for offset in near_breaks | set(range(1, len(stream), 37)) if 0 < offset < len(stream))


@pytest.mark.parametrize("pair", STREAMS, ids=[f"{name}:{e.id}" for name, e in STREAMS])
def test_recorded_streams_in_every_framing_cut_anywhere(pair: tuple[str, Endpoint]) -> None:
    name, endpoint = pair
    facts = endpoint.facts()
    expected = feed(endpoint.protocol.stream_parser(facts), [fixture(name)])
    assert expected.usage_found
    for framing, stream in framings(fixture(name)).items():
        assert feed(endpoint.protocol.stream_parser(facts), [stream]) == expected, framing
        for offset in split_points(stream):
            parsed = feed(endpoint.protocol.stream_parser(facts), [stream[:offset], stream[offset:]])
            assert parsed == expected, (framing, offset)


@FUZZ
@given(st.sampled_from(STREAMS), st.sampled_from(list(framings(b"data: {}\n\n"))), offsets)
def test_recorded_streams_in_random_chunkings(pair: tuple[str, Endpoint], framing: str, cuts: list[int]) -> None:
    name, endpoint = pair
    facts = endpoint.facts()
    stream = framings(fixture(name))[framing]
    expected = feed(endpoint.protocol.stream_parser(facts), [fixture(name)])
    assert feed(endpoint.protocol.stream_parser(facts), cut(stream, cuts)) == expected
    byte_by_byte = feed(endpoint.protocol.stream_parser(facts), [stream[i : i + 1] for i in range(len(stream))])
    assert byte_by_byte == expected


@pytest.mark.parametrize("pair", STREAMS, ids=[f"{name}:{e.id}" for name, e in STREAMS])
def test_recorded_streams_truncated_anywhere(pair: tuple[str, Endpoint]) -> None:
    """A connection cut at any byte: whatever was read parses, never raises, never over-counts."""
    name, endpoint = pair
    stream = fixture(name)
    facts = endpoint.facts()
    complete = feed(endpoint.protocol.stream_parser(facts), [stream])
    for end in range(len(stream)):
        parsed = feed(endpoint.protocol.stream_parser(facts), [stream[:end]])
        assert_sane(parsed)
        assert parsed.usage.input_tokens <= complete.usage.input_tokens
        assert parsed.usage.output_tokens <= complete.usage.output_tokens


sse_lines = st.lists(
    st.sampled_from(
        [b"data: a", b"data:b", b"data", b"event: x", b": ping", b"id: 1", b"retry: 5", b"", b"\xef\xbb\xbf"]
    )
    | st.binary(max_size=20),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(sse_lines, st.sampled_from([b"\n", b"\r\n", b"\r"]), offsets, st.integers(min_value=64, max_value=256))
def test_sse_reader_any_lines_any_chunking(lines: list[bytes], newline: bytes, cuts: list[int], cap: int) -> None:
    stream = newline.join(lines)

    def read(chunks: list[bytes]) -> list[Any]:
        reader = SSEReader(cap)
        return [event for chunk in chunks for event in reader.feed(chunk)] + reader.close()

    whole = read([stream])
    assert read(cut(stream, cuts)) == whole
    for event in whole:
        assert len(event.data) <= max(cap, 64) + 2 and isinstance(event.event, str)


@FUZZ
@given(st.binary(max_size=2000), st.text(max_size=120) | st.none(), st.frozensets(st.text(max_size=8), max_size=5))
def test_multipart_any_bytes(body: bytes, content_type: str | None, names: frozenset[str]) -> None:
    fields = form_fields(body, content_type, names)
    assert set(fields) <= names
    assert all(isinstance(value, str) and len(value) <= MAX_VALUE + 2 for value in fields.values())


@FUZZ
@given(json_values | st.sampled_from(HOSTILE_VALUES))
def test_typed_accessors(value: Any) -> None:
    count = _json.tokens(value)
    assert count is None or (type(count) is int and 0 <= count <= _json.MAX_TOKENS)
    assert 1 <= _json.count(value, 1) <= 10_000
    name = _json.text(value)
    assert name is None or 0 < len(name) <= _json.MAX_NAME
    loaded = _json.load(json.dumps(value).encode())
    assert loaded is None or isinstance(loaded, dict)


hosts = st.text(max_size=40) | st.sampled_from(
    ["api.openai.com", "API.OPENAI.COM.", "[::1]:8080", "a.openai.azure.com:443", "h:99999999999999", "[", "]:1", ":"]
)
paths = st.text(max_size=60) | st.sampled_from(["/v1/messages", "/openai/%ZZ/x", "/v1/chat/completions?x=/"])


@FUZZ
@given(hosts, paths, st.none() | st.integers(min_value=-(2**31), max_value=2**31))
def test_routing_any_host_and_path(host: str, path: str, port: int | None) -> None:
    protocol = route(host, path, port=port)
    assert protocol is None or callable(protocol.parse_request)
    assert Router().route(host, path, port) is protocol


@FUZZ
@given(st.dictionaries(st.text(max_size=30), st.text(max_size=20), max_size=4), hosts, paths)
def test_endpoint_maps_of_any_text(entries: dict[str, str], host: str, path: str) -> None:
    route(host, path, entries)  # invalid entries are skipped, never raised
    for url, value in entries.items():
        try:
            parse_endpoint(url, value)
        except ValueError:
            pass
    text = ",".join(f"{url}={value}" for url, value in entries.items())
    try:
        parse_endpoint_map(text)
    except ValueError:
        pass


# Bedrock is read from botocore's dicts (operation name and API parameters, then the parsed response
# or the stream's events), not from HTTP bytes: its own entry points, the same properties.
BEDROCK_MODELS = [
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "us.amazon.nova-lite-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "cohere.command-r-v1:0",
    "cohere.embed-english-v3",
    "mistral.mistral-7b-instruct-v0:2",
    "amazon.titan-text-express-v1",
    "amazon.titan-embed-text-v2:0",
    "amazon.titan-image-generator-v2:0",
    "amazon.nova-canvas-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc",
]
BEDROCK_BODIES = [name for name in JSON_FIXTURES if name.startswith("bedrock_")]


def _bedrock_events(name: str) -> list[dict[str, Any]]:
    lines = fixture(name).splitlines()
    if name == "bedrock_converse_stream.jsonl":
        return [json.loads(line) for line in lines]
    return [{"chunk": {"bytes": line}} for line in lines]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(bedrock.OPERATIONS)),
    st.sampled_from(BEDROCK_MODELS) | hostile,
    st.sampled_from(BEDROCK_BODIES),
    mutations,
    hostile,
    st.sampled_from(["bedrock_converse_stream.jsonl", "bedrock_anthropic_stream.jsonl"]),
    st.integers(min_value=0, max_value=100),
)
def test_bedrock_with_hostile_values(
    operation: str,
    model: Any,
    body_name: str,
    choices: list[tuple[int, Any]],
    value: Any,
    stream_name: str,
    event: int,
) -> None:
    body = json.dumps(mutate(json.loads(fixture(body_name)), choices)).encode()
    params = {"modelId": model, "body": body, "serviceTier": value, "messages": value}
    request = bedrock.parse_request(operation, params)
    assert request is not None  # a billable operation, whatever its parameters say
    assert request.facts.request_model is None or 0 < len(request.facts.request_model) <= 256
    headers = {"x-amzn-bedrock-input-token-count": str(value)[:30], "x-amzn-bedrock-output-token-count": "-3"}
    response = {
        **mutate(json.loads(fixture(body_name)), choices, root=False),
        "usage": value,
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": headers},
    }
    assert_sane(request.parse_response(response, body))
    assert_sane(request.parse_response(response, None))
    events = _bedrock_events(stream_name)
    index = event % len(events)
    events[index] = mutate(events[index], choices, root=False)
    events.append({"chunk": {"bytes": value}})
    parser = request.stream_parser()
    for item in events:
        parser.feed(item)
    assert_sane(parser.finish())
