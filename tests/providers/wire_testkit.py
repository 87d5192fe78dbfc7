"""Shared helpers of the wire-protocol tests: fixtures, request facts, streams cut every way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from otel_ai_cost.providers.base import ParsedResponse, RequestFacts, StreamParser, WireProtocol

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def facts_for(
    protocol: WireProtocol,
    path: str,
    body: dict[str, Any] | bytes,
    *,
    host: str = "api.openai.com",
    content_type: str | None = "application/json",
    method: str = "POST",
) -> RequestFacts:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    facts = protocol.parse_request(method, host, path, content_type, raw)
    assert facts is not None, path
    return facts


def parse_stream(parser: StreamParser, chunks: list[bytes]) -> ParsedResponse:
    for chunk in chunks:
        parser.feed(chunk)
    return parser.finish()


def line_ending_variants(stream: bytes) -> dict[str, bytes]:
    """The stream with LF, CRLF and CR line ends, and with comment lines (keep-alives) added."""
    assert b"\r" not in stream
    with_comments = b": connected\n\n" + stream.replace(b"\n\n", b"\n: keep-alive\n\n: ping\n\n").replace(
        b"\ndata:", b"\n:\ndata:"
    )
    return {
        "lf": stream,
        "crlf": stream.replace(b"\n", b"\r\n"),
        "cr": stream.replace(b"\n", b"\r"),
        "comments": with_comments,
        "comments-crlf": with_comments.replace(b"\n", b"\r\n"),
    }


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """The whole body; every split into two chunks (at every byte offset); one byte at a time."""
    yield [data]
    for offset in range(1, len(data)):
        yield [data[:offset], data[offset:]]
    yield [data[i : i + 1] for i in range(len(data))]


def assert_every_chunking(protocol: WireProtocol, facts: RequestFacts, stream: bytes, expected: ParsedResponse) -> None:
    """Every line-ending variant of `stream`, cut every way, parses to `expected`."""
    for variant, data in line_ending_variants(stream).items():
        for chunks in chunkings(data):
            parsed = parse_stream(protocol.stream_parser(facts), chunks)
            assert parsed == expected, (variant, [len(chunk) for chunk in chunks][:3])
