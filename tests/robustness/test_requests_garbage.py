"""Real `requests` against a loopback server that answers OpenAI and Anthropic paths with garbage:
mutated, truncated and non-JSON bodies and SSE streams, a gzip Content-Encoding over bytes that are
not gzip, a Content-Length shorter or longer than the body, a connection reset in the middle of
the body. Read with `stream=False`, or `stream=True` through `iter_content`, `iter_lines`,
`raw.read` (whole and in pieces) and closed after the first chunk, the caller sees exactly what an
uninstrumented session sees (the same status, headers and bytes, or the same exception type and
message); every instrumented request starts one span and ends it exactly once.

Routing is the builtin one (api.openai.com, api.anthropic.com over https): a transport adapter,
mounted on the session below `Session.send`, delivers those requests to the loopback server.
The uninstrumented run goes through the same session under `suppress_instrumentation`.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests
from fuzzkit import garbage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.instrumentation.utils import suppress_instrumentation
from otel_testkit import serving
from requests.adapters import HTTPAdapter
from robustkit import Instrumented, outcome
from test_caller_sees_the_same import CHAT, CHAT_CHUNKS, MESSAGE, MESSAGE_EVENTS, anthropic_stream, openai_stream
from test_requests_transport import QuietServer

FAULTS = ("none", "gzip-not-gzip", "length-short", "length-long", "reset-mid-body")
URLS = {
    "openai": "https://api.openai.com/v1/chat/completions",
    "anthropic": "https://api.anthropic.com/v1/messages",
}
REQUESTS = {
    "openai": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    "anthropic": {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
}


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    fault: str


class GarbageServer(QuietServer):
    """Answers every POST with `answer`, each on its own connection (closed after the answer, so a
    wrong Content-Length cannot leak into the next response)."""

    request_queue_size = 64  # connections from many threads at once wait to be accepted, not refused

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = Answer(200, "application/json", b"{}", "none")
        self.requests = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GarbageServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.requests += 1
        answer = self.server.answer
        body = answer.body
        length = {"length-short": len(body) // 2, "length-long": len(body) + 100}.get(answer.fault, len(body))
        self.send_response(answer.status)
        self.send_header("content-type", answer.content_type)
        self.send_header("content-length", str(length))
        self.send_header("connection", "close")
        if answer.fault == "gzip-not-gzip":
            self.send_header("content-encoding", "gzip")
        self.end_headers()
        self.close_connection = True
        if answer.fault != "reset-mid-body":
            self.wfile.write(body)
            return
        self.wfile.write(body[: len(body) // 2])
        # SO_LINGER 0: close() sends a TCP RST instead of a FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


class LoopbackAdapter(HTTPAdapter):
    """Sends https://api.openai.com/... and https://api.anthropic.com/... to the loopback server."""

    def __init__(self, port: int) -> None:
        super().__init__(max_retries=0)
        self.port = port

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        local = request.copy()
        path = (request.path_url or "/").lstrip("/")
        local.url = f"http://127.0.0.1:{self.port}/{path}"
        return super().send(local, *args, **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[GarbageServer]:
    with serving(GarbageServer()) as httpd:
        yield httpd


def seen_response(response: requests.Response, body: Any) -> tuple[Any, ...]:
    """What the caller has of a response: status, headers (but the clock's), and what it read."""
    headers = sorted((name.lower(), value) for name, value in response.headers.items() if name.lower() != "date")
    return response.status_code, headers, body


def read_in_pieces(raw: Any) -> bytes:
    pieces = []
    while piece := raw.read(7):
        pieces.append(piece)
    return b"".join(pieces)


def calls(session: requests.Session, url: str, payload: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    def post(stream: bool) -> requests.Response:
        return session.post(url, json=payload, stream=stream, timeout=10)

    def streamed(read: Callable[[requests.Response], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with post(True) as response:
                return seen_response(response, read(response))

        return call

    def closed_early(response: requests.Response) -> Any:
        first = next(response.iter_content(16), None)
        response.close()
        return first

    return {
        "not-streamed": lambda: seen_response(response := post(False), response.content),
        "iter_content": streamed(lambda response: list(response.iter_content(13))),
        "iter_lines": streamed(lambda response: list(response.iter_lines())),
        "content": streamed(lambda response: response.content),
        "raw.read": streamed(lambda response: response.raw.read()),
        "raw.read-pieces": streamed(lambda response: read_in_pieces(response.raw)),
        "raw.read-decoded": streamed(lambda response: response.raw.read(decode_content=True)),
        "raw-lines": streamed(lambda response: list(response.raw)),
        "raw-then-iter_content": streamed(lambda response: (response.raw.read(5), list(response.iter_content(64)))),
        "closed-early": streamed(closed_early),
    }


BODIES = {
    "openai": garbage(CHAT, openai_stream, CHAT_CHUNKS),
    "anthropic": garbage(MESSAGE, anthropic_stream, MESSAGE_EVENTS),
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    st.data(),
    st.sampled_from(["openai", "anthropic"]),
    st.sampled_from([200, 200, 200, 400, 429, 500]),
    st.sampled_from(["application/json", "text/event-stream", "text/event-stream; charset=utf-8", "text/plain"]),
    st.sampled_from(FAULTS),
)
def test_garbage_answers_change_nothing_for_a_requests_caller(
    instrumented: Instrumented,
    server: GarbageServer,
    data: st.DataObject,
    vendor: str,
    status: int,
    content_type: str,
    fault: str,
) -> None:
    server.answer = Answer(status, content_type, data.draw(BODIES[vendor]), fault)
    session = requests.Session()
    session.mount("https://", LoopbackAdapter(server.server_address[1]))
    instrumented.ledger.reset()
    server.requests = 0
    for name, call in calls(session, URLS[vendor], REQUESTS[vendor]).items():
        with suppress_instrumentation():
            expected = outcome(call)
        seen = outcome(call)
        assert seen == expected, name
        assert instrumented.ledger.open_spans() == set(), f"{name}: a span was left open"
        assert len(instrumented.ledger.started) == server.requests // 2, name
    instrumented.ledger.assert_balanced(server.requests // 2)
    assert server.requests == 2 * 10


def test_each_fault_is_seen_as_requests_sees_it(instrumented: Instrumented, server: GarbageServer) -> None:
    """The faults are real: each one reaches the caller as requests' own error (a test that could
    not fail would compare two identical successes)."""
    body = openai_stream(CHAT_CHUNKS)
    session = requests.Session()
    session.mount("https://", LoopbackAdapter(server.server_address[1]))
    expected = {
        "gzip-not-gzip": "ContentDecodingError",
        "length-long": "ChunkedEncodingError",
        "reset-mid-body": "ChunkedEncodingError",
    }
    for fault, error in expected.items():
        server.answer = Answer(200, "text/event-stream", body, fault)
        seen = outcome(calls(session, URLS["openai"], REQUESTS["openai"])["iter_content"])
        assert seen[:2] == ("raised", error), (fault, seen)
    server.answer = Answer(200, "text/event-stream", body, "length-short")
    seen = outcome(calls(session, URLS["openai"], REQUESTS["openai"])["content"])
    assert seen[0] == "returned" and seen[1].endswith(repr(body[: len(body) // 2]) + ")"), seen
    instrumented.ledger.assert_balanced(4)


def test_a_stream_read_by_iterating_raw_is_priced(instrumented: Instrumented, server: GarbageServer) -> None:
    """Regression: `for line in response.raw` (urllib3 splits lines from its own `stream()`) went
    past the tee, so a stream read whole ended its span only at close, unpriced (no_usage)."""
    server.answer = Answer(200, "text/event-stream", openai_stream(CHAT_CHUNKS), "none")
    session = requests.Session()
    session.mount("https://", LoopbackAdapter(server.server_address[1]))
    with session.post(URLS["openai"], json=REQUESTS["openai"], stream=True) as response:
        lines = list(response.raw)
        assert len(instrumented.spans.get_finished_spans()) == 1  # ended by the end of the body
    assert b"".join(lines) == openai_stream(CHAT_CHUNKS)
    (span,) = instrumented.spans.get_finished_spans()
    # 3 in x $0.15/1M + 1 out x $0.60/1M = 0.45 + 0.60 = 1.05 per 1M
    assert (span.attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(0.00000105)
