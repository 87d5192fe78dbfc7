"""The collector down or stuck: the application's AI calls return what they would return anyway and
never wait for an export; spans still end; memory stays bounded.

Real OTLP/HTTP exporters behind the SDK's BatchSpanProcessor and PeriodicExportingMetricReader,
pointed at a closed loopback port, or at a loopback collector that holds each export open until
the test lets it answer. Nothing here is timed: "not blocked" is shown by structure (every export
runs on the processor's own thread, and the application finishes its whole loop while the
collector still holds the first export), "bounded" by the spans alive and the bytes allocated.
"""

from __future__ import annotations

import gc
import json
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import openai
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from otel_testkit import serving
from robustkit import SpanLedger

from otel_ai_cost import AICostInstrumentor, PriceEngine

MAX_QUEUE = 512
BATCH = 64


def chat_body(index: int) -> bytes:
    return json.dumps(
        {
            "id": f"chatcmpl-{index}",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": f"answer {index}"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 100 + index, "completion_tokens": 20, "total_tokens": 120 + index},
        }
    ).encode()


def respond(request: httpx2.Request) -> httpx2.Response:
    index = int(json.loads(request.content)["messages"][0]["content"])
    return httpx2.Response(200, content=chat_body(index), headers={"content-type": "application/json"})


CLIENT = openai.OpenAI(
    api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(respond)), max_retries=0
)


def ai_calls(count: int) -> list[tuple[str, str | None, int]]:
    """What the application gets back from `count` chat completions."""
    results = []
    for index in range(count):
        completion = CLIENT.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": str(index)}]
        )
        assert completion.usage is not None
        results.append((completion.id, completion.choices[0].message.content, completion.usage.prompt_tokens))
    return results


def uninstrumented_calls(count: int) -> list[tuple[str, str | None, int]]:
    with suppress_instrumentation():
        return ai_calls(count)


class ExportThreads(SpanExporter):
    """The real exporter, noting the thread and result of every export."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.exports: list[tuple[int, int, SpanExportResult]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.exporter.export(spans)
        self.exports.append((threading.get_ident(), len(spans), result))
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


@contextmanager
def instrumented(exporter: SpanExporter, metric_endpoint: str) -> Iterator[SpanLedger]:
    threads_before = set(threading.enumerate())
    ledger = SpanLedger()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(ledger)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=MAX_QUEUE, max_export_batch_size=BATCH, schedule_delay_millis=10)
    )
    metric_reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=metric_endpoint, timeout=0.5),
        export_interval_millis=100,
        export_timeout_millis=1000,
    )
    meter_provider = MeterProvider(metric_readers=[metric_reader])
    instrumentor = AICostInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, price_engine=PriceEngine())
    try:
        yield ledger
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown(timeout_millis=2000)
    workers = [thread for thread in set(threading.enumerate()) - threads_before if thread.name.startswith("Otel")]
    for thread in workers:
        thread.join(5)
    assert not [thread.name for thread in workers if thread.is_alive()], "an exporter thread outlived its provider"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def run_as_app(work: Callable[[], Any], limit: float = 120.0) -> tuple[Any, int]:
    """`work` on an application thread of its own; its result and the thread's id."""
    outcome: dict[str, Any] = {}

    def app() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=app, name="application")
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), "the application loop did not finish: it waited on the exporter"
    if "error" in outcome:
        raise outcome["error"]
    assert thread.ident is not None
    return outcome["result"], thread.ident


def test_collector_unreachable() -> None:
    port = closed_port()
    expected = uninstrumented_calls(200)
    exporter = ExportThreads(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=0.5))
    with instrumented(exporter, f"http://127.0.0.1:{port}/v1/metrics") as ledger:
        results, app_thread = run_as_app(lambda: ai_calls(200))
    assert results == expected
    ledger.assert_balanced(200)
    assert exporter.exports, "no export was attempted"
    assert all(result is SpanExportResult.FAILURE for _, _, result in exporter.exports)
    assert sum(count for _, count, _ in exporter.exports) == 200  # nothing dropped: the queue never filled
    assert app_thread not in {thread for thread, _, _ in exporter.exports}


class StuckCollector(ThreadingHTTPServer):
    """Accepts OTLP exports and answers each one only once `release` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Holding)
        self.received = threading.Event()
        self.release = threading.Event()
        self.requests = 0


class _Holding(BaseHTTPRequestHandler):
    server: StuckCollector

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests += 1
        self.server.received.set()
        self.server.release.wait(120)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def stuck_collector() -> Iterator[StuckCollector]:
    with serving(StuckCollector()) as server:
        try:
            yield server
        finally:
            server.release.set()  # before the shutdown: a handler waiting on it holds the server


def live_spans(ledger: SpanLedger) -> int:
    """The finished spans of this test still in memory (earlier tests' spans may be too)."""
    gc.collect()
    ours = set(ledger.started)
    return sum(1 for value in gc.get_objects() if isinstance(value, ReadableSpan) and value.context.span_id in ours)


def test_collector_stuck_the_app_goes_on_and_memory_stays_bounded() -> None:
    expected = uninstrumented_calls(100)
    bare = httpx2.Client(transport=httpx2.MockTransport(respond))
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "7"}]}

    def flood(count: int) -> None:
        for _ in range(count):
            bare.post("https://api.openai.com/v1/chat/completions", json=request)

    with stuck_collector() as collector:
        endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
        # the collector holds the export until released (at most 120 s); the exporter waits as long
        exporter = ExportThreads(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=120))
        with instrumented(exporter, f"http://127.0.0.1:{closed_port()}/v1/metrics") as ledger:
            ai_calls(1)
            assert collector.received.wait(10), "the first batch was never exported"

            def application() -> tuple[list[Any], int, int, int, int]:
                results = ai_calls(100)
                flood(MAX_QUEUE + 200)  # the queue is full from here on: each new span drops one
                spans_full = live_spans(ledger)
                tracemalloc.start()
                try:
                    flood(1_000)
                    held = tracemalloc.get_traced_memory()[0]
                    flood(2_000)
                    grown = tracemalloc.get_traced_memory()[0] - held
                finally:
                    tracemalloc.stop()
                return results, spans_full, live_spans(ledger), held, grown

            (results, spans_full, spans_after, held, grown), app_thread = run_as_app(application)
            # the whole loop ran while the collector still held the first export
            assert not collector.release.is_set() and collector.requests == 1
            assert results == expected
            # 3,813 requests: the spans alive are the queue and the batch held by the stuck export, no more
            assert spans_after <= MAX_QUEUE + BATCH + 50, spans_after
            assert spans_after - spans_full <= 50, (spans_full, spans_after)
            # A queued span holds about 5 KB. What the first 1,000 flooded requests left allocated is at
            # most the refilled queue; the next 2,000 (~10 MB if kept) leave nearly nothing more.
            assert held < (MAX_QUEUE + BATCH) * 10_000, held
            assert grown < 1_000_000, grown
            collector.release.set()
        ledger.assert_balanced(1 + 100 + MAX_QUEUE + 200 + 1_000 + 2_000)
    assert exporter.exports and app_thread not in {thread for thread, _, _ in exporter.exports}
