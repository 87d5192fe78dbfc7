"""Bedrock Runtime over HTTP (`providers/bedrock_http.py`) and AWS's event-stream framing
(`providers/eventstream.py`), as pure functions over bytes.

Prices (USD per 1M tokens, Bedrock on-demand list): Claude 3.5 Haiku 0.80 in, 4.00 out, 0.08 cache
read, 1.00 cache write; Claude Sonnet 4.5 global 3.00 / 15.00; Nova Lite 0.06 / 0.24.
"""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from eventstream_testkit import chunk_event, event, event_message, exception_event
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_testkit import facts_for, fixture

from otel_ai_cost.pricing import PriceEngine
from otel_ai_cost.providers.bedrock_http import BedrockHTTPProtocol, operation_and_model
from otel_ai_cost.providers.eventstream import MAX_MESSAGE_BYTES, EventStreamReader
from otel_ai_cost.providers.routing import route

HOST = "bedrock-runtime.us-east-1.amazonaws.com"
PROTOCOL = BedrockHTTPProtocol()
NOVA_LITE = "us.amazon.nova-lite-v1:0"
SONNET_45_GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
ANTHROPIC_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400, "messages": []}


def converse_stream() -> bytes:
    events = [json.loads(line) for line in fixture("bedrock_converse_stream.jsonl").splitlines()]
    return b"".join(event(next(iter(e)), next(iter(e.values()))) for e in events)


def anthropic_stream() -> bytes:
    return b"".join(chunk_event(chunk) for chunk in fixture("bedrock_anthropic_stream.jsonl").splitlines())


def parse(path: str, body: dict[str, object], response: bytes, chunks: list[int] | None = None) -> object:
    facts = facts_for(PROTOCOL, path, body, host=HOST)
    parser = PROTOCOL.stream_parser(facts)
    cuts = [0, *(chunks or []), len(response)]
    for start, end in zip(cuts, cuts[1:], strict=False):
        parser.feed(response[start:end])
    return parser.finish()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke",
            ("InvokeModel", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        ),
        (f"/model/{NOVA_LITE}/converse-stream", ("ConverseStream", NOVA_LITE)),
        ("/model/x/invoke-with-response-stream?x=1", ("InvokeModelWithResponseStream", "x")),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1234%3Aapplication-inference-profile%2Fab12/converse",
            ("Converse", "arn:aws:bedrock:us-east-1:1234:application-inference-profile/ab12"),
        ),
        ("/model/x/count-tokens", None),
        ("/guardrail/g1/version/1/apply", None),
        ("/model//invoke", None),
    ],
)
def test_operation_and_model_from_the_path(path: str, expected: tuple[str, str] | None) -> None:
    assert operation_and_model(path) == expected


@pytest.mark.parametrize(
    "host",
    [
        HOST,
        "bedrock-runtime-fips.us-east-1.amazonaws.com",
        "bedrock-runtime.eu-west-1.api.aws",
        "bedrock-runtime.us-gov-west-1.amazonaws.com",
        "bedrock-runtime.cn-north-1.amazonaws.com.cn",
    ],
)
def test_bedrock_runtime_hosts_are_routed(host: str) -> None:
    assert isinstance(route(host, f"/model/{NOVA_LITE}/converse"), BedrockHTTPProtocol)
    assert route(host, "/") is None


def test_other_aws_hosts_are_not_routed() -> None:
    assert route("bedrock.us-east-1.amazonaws.com", "/foundation-models") is None
    assert route("s3.us-east-1.amazonaws.com", f"/model/{NOVA_LITE}/converse") is None
    assert route("bedrock-runtime.example.com", f"/model/{NOVA_LITE}/converse") is None


def test_endpoint_map_names_the_protocol_bedrock() -> None:
    parser = route("127.0.0.1", "/model/m/converse", {"http://127.0.0.1:9000": "bedrock:corp-bedrock"}, port=9000)
    assert isinstance(parser, BedrockHTTPProtocol) and parser.provider == "corp-bedrock"


def test_whole_converse_with_cache_tokens() -> None:
    facts = facts_for(
        PROTOCOL, "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse", {"messages": []}, host=HOST
    )
    parsed = PROTOCOL.parse_response(facts, fixture("bedrock_converse_cache.json"))
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (96 + 6144 + 2048, 412)
    assert parsed.finish_reasons == ("end_turn",)
    # 96 x 0.80 + 6144 x 0.08 + 2048 x 1.00 + 412 x 4.00 = 76.8 + 491.52 + 2048 + 1648 = 4264.32 per 1M
    assert PriceEngine().price(parsed.usage).total_usd == pytest.approx(0.00426432, rel=1e-9)


def test_whole_invoke_anthropic_body_prices_the_bedrock_model_id() -> None:
    path = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke"
    facts = facts_for(PROTOCOL, path, ANTHROPIC_BODY, host=HOST)
    parsed = PROTOCOL.parse_response(facts, fixture("bedrock_anthropic_message.json"))
    assert parsed.usage.request_model == "anthropic.claude-3-5-haiku-20241022-v1:0"
    assert parsed.usage.response_model is None
    # 310 x 0.80 + 6144 x 0.08 + 2048 x 1.00 + 180 x 4.00 = 248 + 491.52 + 2048 + 720 = 3507.52 per 1M
    assert PriceEngine().price(parsed.usage).total_usd == pytest.approx(0.00350752, rel=1e-9)


def test_body_without_counts_is_not_priced_over_http() -> None:
    """The documented limit: the X-Amzn-Bedrock-*-Token-Count headers are not seen by a parser."""
    facts = facts_for(PROTOCOL, "/model/mistral.mistral-7b-instruct-v0%3A2/invoke", {"prompt": "x"}, host=HOST)
    parsed = PROTOCOL.parse_response(facts, fixture("bedrock_mistral.json"))
    assert not parsed.usage_found


def test_converse_stream_split_at_every_byte_gives_the_same_usage() -> None:
    stream = converse_stream()
    whole = parse(f"/model/{NOVA_LITE}/converse-stream", {"messages": []}, stream)
    assert whole.usage.input_tokens == 2500 and whole.usage.output_tokens == 600  # type: ignore[attr-defined]
    assert whole.finish_reasons == ("end_turn",)  # type: ignore[attr-defined]
    # 2500 x 0.06 + 600 x 0.24 = 150 + 144 = 294 per 1M
    assert PriceEngine().price(whole.usage).total_usd == pytest.approx(0.000294, rel=1e-9)  # type: ignore[attr-defined]
    for offset in range(1, len(stream)):
        assert parse(f"/model/{NOVA_LITE}/converse-stream", {"messages": []}, stream, [offset]) == whole, offset


def test_invoke_stream_split_at_every_byte_gives_the_same_usage() -> None:
    stream = anthropic_stream()
    path = f"/model/{SONNET_45_GLOBAL}/invoke-with-response-stream"
    whole = parse(path, ANTHROPIC_BODY, stream)
    assert (whole.usage.input_tokens, whole.usage.output_tokens) == (1500, 300)  # type: ignore[attr-defined]
    # 1500 x 3.00 + 300 x 15.00 = 4500 + 4500 = 9000 per 1M (global endpoint price)
    assert PriceEngine().price(whole.usage).total_usd == pytest.approx(0.009, rel=1e-9)  # type: ignore[attr-defined]
    for offset in range(1, len(stream)):
        assert parse(path, ANTHROPIC_BODY, stream, [offset]) == whole, offset
    assert parse(path, ANTHROPIC_BODY, stream, list(range(1, len(stream)))) == whole  # one byte at a time


def test_a_whole_stream_body_parses_like_the_stream() -> None:
    facts = facts_for(PROTOCOL, f"/model/{NOVA_LITE}/converse-stream", {"messages": []}, host=HOST)
    assert PROTOCOL.parse_response(facts, converse_stream()) == parse(
        f"/model/{NOVA_LITE}/converse-stream", {"messages": []}, converse_stream()
    )


def test_exception_message_is_the_error_type_with_the_usage_before() -> None:
    chunks = fixture("bedrock_anthropic_stream.jsonl").splitlines()
    stream = b"".join(chunk_event(c) for c in chunks[:3]) + exception_event("throttlingException", "slow down")
    parsed = parse(f"/model/{SONNET_45_GLOBAL}/invoke-with-response-stream", ANTHROPIC_BODY, stream)
    assert parsed.error_type == "throttlingException"  # type: ignore[attr-defined]
    assert parsed.usage.input_tokens == 1500  # type: ignore[attr-defined]


def test_reader_skips_a_message_with_a_bad_crc_and_reads_the_next() -> None:
    good = event("metadata", {"usage": {"inputTokens": 1}})
    bad = bytearray(good)
    bad[20] ^= 0xFF  # inside the headers: the message CRC no longer matches
    reader = EventStreamReader()
    messages = reader.feed(bytes(bad) + good)
    assert [m.headers[":event-type"] for m in messages] == ["metadata"]
    assert reader.skipped == 1 and not reader.broken


def test_reader_stops_at_a_prelude_it_cannot_trust() -> None:
    reader = EventStreamReader()
    huge = struct.pack("!II", MAX_MESSAGE_BYTES + 1, 0)
    assert reader.feed(huge + struct.pack("!I", zlib.crc32(huge)) + b"x" * 100) == []
    assert reader.broken
    assert reader.feed(event("metadata", {})) == []  # nothing more is read once the framing is lost
    inverted = struct.pack("!II", 40, 30)  # headers longer than the room the message has for them
    reader = EventStreamReader()
    assert reader.feed(inverted + struct.pack("!I", zlib.crc32(inverted)) + b"\0" * 28) == [] and reader.broken


def test_reader_keeps_only_string_headers_and_skips_typed_ones() -> None:
    typed = b"\x04flag\x00" + b"\x02id\x04\x00\x00\x00\x07" + b"\x04uuid\x09" + b"u" * 16
    message = event_message({":message-type": "event", ":event-type": "metadata"}, b"{}")
    prelude_end = 12
    headers_length = struct.unpack("!I", message[4:8])[0]
    headers = typed + message[prelude_end : prelude_end + headers_length]
    total = 12 + len(headers) + 2 + 4
    prelude = struct.pack("!II", total, len(headers))
    body = prelude + struct.pack("!I", zlib.crc32(prelude)) + headers + b"{}"
    [read] = EventStreamReader().feed(body + struct.pack("!I", zlib.crc32(body)))
    assert read.headers == {":message-type": "event", ":event-type": "metadata"} and read.payload == b"{}"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_garbage_never_raises(garbage: bytes, piece: int) -> None:
    for stream in (garbage, converse_stream()[:50] + garbage, garbage + converse_stream()):
        for path in (f"/model/{NOVA_LITE}/converse-stream", f"/model/{SONNET_45_GLOBAL}/invoke-with-response-stream"):
            facts = facts_for(PROTOCOL, path, ANTHROPIC_BODY, host=HOST)
            parser = PROTOCOL.stream_parser(facts)
            for start in range(0, len(stream), piece):
                parser.feed(stream[start : start + piece])
            parser.finish()
            PROTOCOL.parse_response(facts, stream)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupted_frames_never_raise(data: st.DataObject) -> None:
    stream = bytearray(anthropic_stream())
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        stream[data.draw(st.integers(min_value=0, max_value=len(stream) - 1))] = data.draw(st.integers(0, 255))
    parse(f"/model/{SONNET_45_GLOBAL}/invoke-with-response-stream", ANTHROPIC_BODY, bytes(stream), [7, 100])


def test_bad_chunk_payloads_are_ignored() -> None:
    stream = (
        event("chunk", {"bytes": "%%% not base64"})
        + event("chunk", {"bytes": 12})
        + event_message({":message-type": "event", ":event-type": "chunk"}, b"not json")
        + anthropic_stream()
    )
    parsed = parse(f"/model/{SONNET_45_GLOBAL}/invoke-with-response-stream", ANTHROPIC_BODY, stream)
    assert parsed.usage.output_tokens == 300  # type: ignore[attr-defined]


def test_converse_service_tier_from_the_request_body() -> None:
    path = f"/model/{NOVA_LITE}/converse"
    assert facts_for(PROTOCOL, path, {"messages": [], "serviceTier": {"type": "priority"}}, host=HOST).service_tier == (
        "priority"
    )
    assert facts_for(PROTOCOL, path, {"messages": []}, host=HOST).service_tier == "default"
