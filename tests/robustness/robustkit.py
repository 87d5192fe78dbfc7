"""What the robustness tests share: a ledger of every span started and ended (by span id), so a
test can tell a span that never ended from one never started; a response body that arrives in
pieces and can be read only once, as from a socket; a server that answers every request alike;
and what the caller saw of a call.

The loopback servers and the event-stream encoder of `tests/instrumentation` are imported from
there, under the module names pytest gives those files. A module of its own (not `conftest`, a
name every test folder has) so that `from robustkit import ...` means this file whatever pytest
collected first."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from opentelemetry.context import Context
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_testkit import metric_points

sys.path.append(str(Path(__file__).parent.parent / "instrumentation"))


class Pieces(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body read once, piece by piece, as from a socket: iterating again goes on where the last
    iteration stopped (an SDK draining a stream it has half read does this)."""

    def __init__(self, pieces: list[bytes], pause_before_last: float = 0.0) -> None:
        self.pieces = list(pieces)
        self.pause_before_last = pause_before_last

    def __iter__(self) -> Any:
        while self.pieces:
            yield self.pieces.pop(0)

    async def __aiter__(self) -> Any:
        while self.pieces:
            await asyncio.sleep(self.pause_before_last if len(self.pieces) == 1 else 0)
            yield self.pieces.pop(0)


class SpanLedger(SpanProcessor):
    """Span ids as they start and end, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started: list[int] = []
        self.ended: list[int] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with self._lock:
            self.started.append(span.get_span_context().span_id)

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            self.ended.append(span.get_span_context().span_id)

    def open_spans(self) -> set[int]:
        with self._lock:
            return set(self.started) - set(self.ended)

    def reset(self) -> None:
        """Forget what was seen. Hypothesis reseeds `random`, which the SDK's id generator uses,
        for every example: ids repeat across examples, so a property test resets per example."""
        with self._lock:
            self.started.clear()
            self.ended.clear()

    def assert_balanced(self, expected: int) -> None:
        """`expected` spans started, each ended exactly once, all ids distinct."""
        with self._lock:
            started, ended = list(self.started), list(self.ended)
        assert len(started) == expected, (len(started), expected)
        assert len(set(started)) == len(started), "a span id was used twice"
        assert sorted(ended) == sorted(started), f"{len(set(started) - set(ended))} spans never ended"


@dataclass
class Instrumented:
    ledger: SpanLedger
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider

    def points(self, name: str) -> list[Any]:
        return metric_points(self.metrics, name)

    def sums_by(self, name: str, *keys: str) -> dict[tuple[Any, ...], Any]:
        """A counter's values summed by the given attributes."""
        totals: dict[tuple[Any, ...], Any] = {}
        for point in self.points(name):
            key = tuple(point.attributes.get(k) for k in keys)
            totals[key] = totals.get(key, 0) + point.value
        return totals


class Server:
    """Answers every request with the same status, content type and body, in pieces."""

    def __init__(self, status: int, content_type: str, body: bytes, piece: int) -> None:
        self.status, self.content_type, self.body, self.piece = status, content_type, body, piece
        self.requests = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        return httpx2.Response(
            self.status,
            headers={"content-type": self.content_type},
            stream=Pieces([self.body[i : i + self.piece] for i in range(0, len(self.body), self.piece)]),
        )


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What the caller saw: the repr of what came back, or the exception's type and message."""
    try:
        return ("returned", repr(call()))
    except Exception as exc:  # the SDK's own exceptions are the outcome under test
        return ("raised", type(exc).__qualname__, str(exc))


def drain(stream: Any) -> list[str]:
    """Read a stream to its end, or to the exception the SDK raises from it (in the outcome)."""
    seen: list[str] = []
    try:
        for item in stream:
            seen.append(repr(item))
    finally:
        stream.close()
    return seen
