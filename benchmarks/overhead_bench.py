"""What the instrumentation costs the application, against floors measured in the same run.

Three targets, each reported as "meets" or "misses":

1. Per-call overhead with the real openai SDK (on httpx2) over `httpx2.MockTransport` serving
   recorded-style responses: a chat completion, a 50-chunk SSE chat stream with usage, a DALL-E 3
   image and an embeddings call. Overhead = instrumented - uninstrumented time per call. The
   floor is what any instrumentation must pay: the same OpenTelemetry SDK (same providers, span
   processor and metric reader) starting one span before the call and, after it, setting the same
   attributes, making the same metric records and ending it, by hand, everything precomputed; its
   cost is measured around the real call (in a tight loop alone, with hot caches, it is cheaper,
   and is reported too). Target: overhead <= 1.5x floor.
2. `import otel_ai_cost` + `AICostInstrumentor().instrument()` in a fresh interpreter with no AI
   SDK imported: the total, and ours alone (OpenTelemetry and wrapt already imported, as under
   `opentelemetry-instrument`). Target: ours alone <= 50 ms.
3. Resident memory over 100,000 instrumented calls after a warm-up (from /proc/self/statm), the
   same four requests sent with httpx2 directly (through the SDK they would take minutes).
   Target: growth <= 1 MiB.

Times are CPU time of the process (time spent descheduled on a busy machine does not count):
medians over alternating adjacent blocks, the overhead being the median of the differences of
adjacent blocks. Each ratio comes with a 90 % bootstrap interval over the pairs of blocks: how far
the noise of the run reaches (the verdict is on the ratio itself). The exit status is 0 whatever
the figures, unless `--check` is given.

    python benchmarks/overhead_bench.py [--quick | --smoke] [--check] [--json FILE]
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import math
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx2
import openai
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

from otel_ai_cost import AICostInstrumentor, PriceEngine, tags
from otel_ai_cost.providers.openai import OpenAIProtocol

OVERHEAD_RATIO_TARGET = 1.5
IMPORT_TARGET_MS = 50.0
RSS_TARGET_BYTES = 1 << 20
OUR_SCOPE = "otel_ai_cost.instrumentor"
FLOOR_SCOPE = "overhead-bench.floor"
STREAM_EVENTS = 50

# ---------------------------------------------------------------------------------------------
# Responses, as the OpenAI API reference shows them.

CHAT_RESPONSE = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Autocomplete suggestions: 'pricing page', 'pricing api', 'pricing for teams'.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_06737a9306",
}


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-BAu4qpHHcBCCmmVx2dbmfzQkSVl5m",
        "object": "chat.completion.chunk",
        "created": 1741870136,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        "usage": None,
    }


def stream_pieces() -> list[bytes]:
    """50 SSE events, one per network read as a server flushing per token sends them."""
    events = [_chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [_chunk({"content": f" word{i}"}) for i in range(STREAM_EVENTS - 3)]
    events.append(_chunk({}, "stop"))
    usage_chunk = _chunk({})
    usage_chunk["choices"] = []
    usage_chunk["usage"] = {
        "prompt_tokens": 1000,
        "completion_tokens": 47,
        "total_tokens": 1047,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    events.append(usage_chunk)
    pieces = [b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n" for event in events]
    pieces[-1] += b"data: [DONE]\n\n"
    return pieces


IMAGE_RESPONSE = {
    "created": 1713833628,
    "data": [
        {
            "revised_prompt": "A watercolour illustration of a lighthouse on a rocky coast at dawn, soft pastel sky.",
            "url": "https://oaidalleapiprodscus.blob.core.windows.net/private/org-Yx2kF9Qm/user-Ab12Cd34/"
            "img-9Qx7Lm2Np4Rs.png?st=2026-04-23T00%3A53%3A48Z&se=2026-04-23T02%3A53%3A48Z&sp=r&sv=2021-08-06"
            "&sr=b&rscd=inline&rsct=image/png&skoid=6aaadede&sktid=a48cca56&skt=2026-04-22T19%3A36%3A49Z"
            "&ske=2026-04-23T19%3A36%3A49Z&sks=b&skv=2021-08-06&sig=q2Zl0bXqS1c3nQ%2BnT7m2f0J4o%3D",
        }
    ],
}

EMBEDDING_RESPONSE = {
    "object": "list",
    "data": [
        {
            "object": "embedding",
            "index": 0,
            # The SDK asks for base64 by default: 1536 float32 values of text-embedding-3-small.
            "embedding": base64.b64encode(
                struct.pack("<1536f", *(((i * 37) % 1000) / 1e4 for i in range(1536)))
            ).decode(),
        }
    ],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 9, "total_tokens": 9},
}


class Pieces(httpx2.SyncByteStream):
    """A response body arriving in the given pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces


def _openai_client(handle: Callable[[httpx2.Request], httpx2.Response]) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-bench-not-a-real-key",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handle)),
    )


def _json_handler(payload: dict[str, Any]) -> Callable[[httpx2.Request], httpx2.Response]:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", "content-length": str(len(body))}

    def handle(request: httpx2.Request) -> httpx2.Response:
        # The body as a stream, as from a socket (read inside send for a non-streaming call).
        return httpx2.Response(200, stream=Pieces([body]), headers=headers)

    return handle


def _stream_handler() -> Callable[[httpx2.Request], httpx2.Response]:
    pieces = stream_pieces()
    headers = {"content-type": "text/event-stream; charset=utf-8"}

    def handle(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, stream=Pieces(pieces), headers=headers)

    return handle


@dataclass
class Scenario:
    name: str
    call: Callable[[], object]
    chunks: int = 0


def scenarios() -> list[Scenario]:
    chat = _openai_client(_json_handler(CHAT_RESPONSE))
    streaming = _openai_client(_stream_handler())
    images = _openai_client(_json_handler(IMAGE_RESPONSE))
    embeddings = _openai_client(_json_handler(EMBEDDING_RESPONSE))
    messages: list[Any] = [
        {"role": "system", "content": "You suggest search completions."},
        {"role": "user", "content": "pric"},
    ]

    def chat_call() -> object:
        return chat.chat.completions.create(model="gpt-4o-mini", messages=messages)

    def stream_call() -> object:
        stream = streaming.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
        )
        return [chunk for chunk in stream]

    def image_call() -> object:
        return images.images.generate(model="dall-e-3", prompt="a lighthouse at dawn, watercolour")

    def embeddings_call() -> object:
        return embeddings.embeddings.create(model="text-embedding-3-small", input="where is my invoice?")

    return [
        Scenario("chat completion", chat_call),
        Scenario(f"chat stream ({STREAM_EVENTS} chunks)", stream_call, chunks=STREAM_EVENTS),
        Scenario("image (dall-e-3)", image_call),
        Scenario("embeddings", embeddings_call),
    ]


# ---------------------------------------------------------------------------------------------
# The OpenTelemetry SDK, as an application would set it up.


class CountingProcessor(SpanProcessor):
    """Counts ended spans per instrumentation scope; keeps the next span's attributes when asked."""

    def __init__(self) -> None:
        self.ended: dict[str, int] = {}
        self.capture = False
        self.start_attributes: dict[str, Any] = {}
        self.last: ReadableSpan | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.capture:
            self.start_attributes = dict(span.attributes or {})

    def on_end(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
        self.ended[scope] = self.ended.get(scope, 0) + 1
        if self.capture:
            self.last = span

    def count(self, scope: str) -> int:
        return self.ended.get(scope, 0)


@dataclass
class Sdk:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    processor: CountingProcessor
    reader: InMemoryMetricReader
    engine: PriceEngine
    instrumented: bool = False

    def instrument(self) -> None:
        if not self.instrumented:
            AICostInstrumentor().instrument(
                tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, price_engine=self.engine
            )
            self.instrumented = True

    def uninstrument(self) -> None:
        if self.instrumented:
            AICostInstrumentor().uninstrument()
            self.instrumented = False


def make_sdk() -> Sdk:
    processor = CountingProcessor()
    tracer_provider = TracerProvider(resource=Resource.create({"deployment.environment.name": "bench"}))
    tracer_provider.add_span_processor(processor)
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], resource=tracer_provider.resource)
    return Sdk(tracer_provider, meter_provider, processor, reader, PriceEngine())


MetricKey = tuple[str, frozenset[tuple[str, Any]]]


@dataclass
class MetricRecord:
    instrument: str
    kind: str
    unit: str
    value: float
    attributes: dict[str, Any]
    bounds: tuple[float, ...] = ()


def _metric_state(reader: InMemoryMetricReader, scope: str) -> dict[MetricKey, tuple[str, str, float, int, Any]]:
    """(instrument, attributes) -> (kind, unit, sum, count, explicit bounds), cumulative."""
    state: dict[MetricKey, tuple[str, str, float, int, Any]] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            if scope_metrics.scope.name != scope:
                continue
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, frozenset((point.attributes or {}).items()))
                    if isinstance(point, HistogramDataPoint):
                        state[key] = ("histogram", metric.unit or "", point.sum, point.count, point.explicit_bounds)
                    elif isinstance(point, NumberDataPoint):
                        state[key] = ("counter", metric.unit or "", float(point.value), 1, None)
    return state


def capture_records(sdk: Sdk, call: Callable[[], object]) -> tuple[ReadableSpan, dict[str, Any], list[MetricRecord]]:
    """The span and the metric records one instrumented call makes (metrics by difference)."""
    before = _metric_state(sdk.reader, OUR_SCOPE)
    sdk.processor.capture, sdk.processor.last = True, None
    try:
        call()
    finally:
        sdk.processor.capture = False
    after = _metric_state(sdk.reader, OUR_SCOPE)
    span = sdk.processor.last
    if span is None:
        raise SystemExit("the instrumented call made no span: the benchmark would measure nothing")
    records = []
    for key, (kind, unit, total, count, bounds) in after.items():
        old_total, old_count = before.get(key, (kind, unit, 0.0, 0, None))[2:4]
        if kind == "histogram":
            for _ in range(count - old_count):
                value = (total - old_total) / (count - old_count)
                records.append(MetricRecord(key[0], kind, unit, value, dict(key[1]), tuple(bounds or ())))
        elif total != old_total:
            records.append(MetricRecord(key[0], kind, unit, total - old_total, dict(key[1])))
    return span, dict(sdk.processor.start_attributes), records


Floor = Callable[[Callable[[], object]], None]


def make_floor(sdk: Sdk, span: ReadableSpan, start: dict[str, Any], records: list[MetricRecord]) -> Floor:
    """Instrumentation by hand around a call: one span with the same attributes and the same metric
    records, everything precomputed (no parsing, no pricing, no tags)."""
    tracer = sdk.tracer_provider.get_tracer(FLOOR_SCOPE)
    meter = sdk.meter_provider.get_meter(FLOOR_SCOPE)
    name = span.name
    late = {key: value for key, value in (span.attributes or {}).items() if key not in start}
    adds: list[tuple[Callable[..., None], float, dict[str, Any]]] = []
    for record in records:
        if record.kind == "histogram":
            histogram = meter.create_histogram(
                record.instrument, unit=record.unit, explicit_bucket_boundaries_advisory=list(record.bounds)
            )
            adds.append((histogram.record, record.value, record.attributes))
        else:
            counter = meter.create_counter(record.instrument, unit=record.unit)
            adds.append((counter.add, record.value, record.attributes))

    def floor(call: Callable[[], object]) -> None:
        current = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=start)
        call()
        current.set_attributes(late)
        for add, value, attributes in adds:
            add(value, attributes)
        current.end()

    return floor


# ---------------------------------------------------------------------------------------------
# Timing.


@dataclass
class Options:
    pairs: int
    """Adjacent (uninstrumented, instrumented) blocks per scenario."""
    block_seconds: float
    fixed_calls: int | None
    import_runs: int
    rss_calls: int
    rss_warmup: int


PRESETS = {
    "default": Options(
        pairs=60, block_seconds=0.02, fixed_calls=None, import_runs=7, rss_calls=100_000, rss_warmup=5000
    ),
    "quick": Options(pairs=15, block_seconds=0.02, fixed_calls=None, import_runs=3, rss_calls=20_000, rss_warmup=2000),
    "smoke": Options(pairs=1, block_seconds=0.0, fixed_calls=3, import_runs=1, rss_calls=28, rss_warmup=7),
}


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    """CPU time of this process per call: time spent descheduled on a busy machine does not count."""
    start = time.process_time_ns()
    for _ in range(calls):
        fn()
    return (time.process_time_ns() - start) / calls / 1e3


@dataclass
class CallResult:
    scenario: str
    chunks: int
    calls_per_block: int
    baseline_us: float
    instrumented_us: float
    floor_us: float
    """By hand around the call, minus the call: median of the differences of adjacent blocks."""
    floor_alone_us: float
    """The same by hand work in a tight loop without the call: hot caches, so lower."""
    spans_per_call: float
    span_name: str
    cost_usd: float | None
    pairs: int

    overhead_us: float
    """The median of the differences of adjacent blocks (not instrumented - baseline medians)."""
    ratio_low: float
    ratio_high: float
    """The 90 % bootstrap interval of the ratio over the pairs: how far the noise of this run reaches."""

    @property
    def ratio(self) -> float:
        return self.overhead_us / self.floor_us if self.floor_us > 0 else float("inf")


MODES = ("baseline", "instrumented", "by hand")


def _nothing() -> None:
    return None


def _median_difference(measured: list[float], baseline: list[float]) -> float:
    return statistics.median(m - b for m, b in zip(measured, baseline, strict=True))


def ratio_interval(
    baseline: list[float], instrumented: list[float], by_hand: list[float], resamples: int = 2000
) -> tuple[float, float]:
    """5th and 95th percentiles of overhead / floor over the pairs of blocks drawn with replacement
    (the blocks of one pair ran next to each other, so a pair is drawn whole)."""
    draw = random.Random(0)
    pairs = range(len(baseline))
    ratios = []
    for _ in range(resamples):
        picked = draw.choices(pairs, k=len(baseline))
        overhead = statistics.median(instrumented[i] - baseline[i] for i in picked)
        floor = statistics.median(by_hand[i] - baseline[i] for i in picked)
        ratios.append(overhead / floor if floor > 0 else math.inf)
    ratios.sort()
    return ratios[int(0.05 * (resamples - 1))], ratios[int(0.95 * (resamples - 1))]


def measure_calls(sdk: Sdk, options: Options) -> list[CallResult]:
    results = []
    with tags(team="search", feature="autocomplete"):
        for scenario in scenarios():
            sdk.instrument()
            for _ in range(3):  # warm-up: prices resolved, tags cached, SDK code paths hot
                scenario.call()
            span, start, records = capture_records(sdk, scenario.call)
            floor = make_floor(sdk, span, start, records)

            def by_hand(call: Callable[[], object] = scenario.call, floor: Floor = floor) -> None:
                floor(call)

            def alone(floor: Floor = floor) -> None:
                floor(_nothing)

            pairs = options.pairs
            if options.fixed_calls is not None:
                calls = alone_calls = options.fixed_calls
            else:
                rough_us = per_call_us(scenario.call, 5)
                calls = max(3, round(options.block_seconds * 1e6 / rough_us))
                alone_calls = max(10, round(options.block_seconds * 1e6 / per_call_us(alone, 50)))
                # The stream's blocks are longer, not fewer: its floor is a small difference of long times.
            # Adjacent blocks see the same load on a shared machine; medians ignore the disturbed ones.
            times: dict[str, list[float]] = {mode: [] for mode in (*MODES, "alone")}
            spans = {mode: 0 for mode in MODES}
            gc.collect()
            for pair in range(pairs):
                for mode in MODES[pair % 3 :] + MODES[: pair % 3]:
                    if mode == "instrumented":
                        sdk.instrument()
                    else:
                        sdk.uninstrument()
                    # Untimed: each instrument() builds a new recorder, whose tag and route caches start empty.
                    (by_hand if mode == "by hand" else scenario.call)()
                    before = sdk.processor.count(OUR_SCOPE) + sdk.processor.count(FLOOR_SCOPE)
                    times[mode].append(per_call_us(by_hand if mode == "by hand" else scenario.call, calls))
                    spans[mode] += sdk.processor.count(OUR_SCOPE) + sdk.processor.count(FLOOR_SCOPE) - before
                times["alone"].append(per_call_us(alone, alone_calls))
            if spans["baseline"] or spans["by hand"] != calls * pairs:
                raise SystemExit(f"{scenario.name}: the uninstrumented runs made spans of ours: not a baseline")
            cost = (span.attributes or {}).get("gen_ai.usage.cost.amount")
            low, high = ratio_interval(times["baseline"], times["instrumented"], times["by hand"])
            result = CallResult(
                scenario=scenario.name,
                chunks=scenario.chunks,
                calls_per_block=calls,
                baseline_us=statistics.median(times["baseline"]),
                instrumented_us=statistics.median(times["instrumented"]),
                overhead_us=_median_difference(times["instrumented"], times["baseline"]),
                floor_us=_median_difference(times["by hand"], times["baseline"]),
                floor_alone_us=statistics.median(times["alone"]),
                spans_per_call=spans["instrumented"] / (calls * len(times["instrumented"])),
                span_name=span.name,
                cost_usd=float(cost) if isinstance(cost, int | float) else None,
                pairs=len(times["instrumented"]),
                ratio_low=low,
                ratio_high=high,
            )
            progress(
                f"{scenario.name}: overhead {result.overhead_us:.1f} us, floor {result.floor_us:.1f} us "
                f"({result.pairs} pairs of {calls}-call blocks)"
            )
            results.append(result)
    sdk.instrument()
    return results


def stream_parse_us() -> float:
    """What parsing the bench stream costs by itself: the joined chunks (as the tee hands them over
    at the end) through the OpenAI stream parser, best of 5 blocks."""
    protocol = OpenAIProtocol()
    request = json.dumps({"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}})
    facts = protocol.parse_request(
        "POST", "api.openai.com", "/v1/chat/completions", "application/json", request.encode()
    )
    if facts is None:
        raise SystemExit("the OpenAI protocol does not claim the bench's stream request")
    body = b"".join(stream_pieces())

    def parse() -> object:
        parser = protocol.stream_parser(facts)
        parser.feed(body)
        return parser.finish()

    return min(per_call_us(parse, 200) for _ in range(5))


# ---------------------------------------------------------------------------------------------
# Import time, in fresh interpreters.

_OTEL_PRELOAD = (
    "wrapt",
    "opentelemetry.trace",
    "opentelemetry.metrics",
    "opentelemetry.baggage",
    "opentelemetry.context",
    "opentelemetry.instrumentation.instrumentor",
    "opentelemetry.instrumentation.utils",
    "opentelemetry.instrumentation.dependencies",
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.metrics",
)
_NOT_AT_IMPORT = ("openai", "anthropic", "google.genai", "boto3", "botocore", "httpx", "httpx2", "aiohttp", "pydantic")
"""Imported by the application or on the first priced request, never by `import` + `instrument()`."""

_IMPORT_PROBE = """
import importlib, json, sys, time
preload = {preload!r}
start = time.process_time()
for name in preload:
    importlib.import_module(name)
ours = time.process_time()
import otel_ai_cost
from otel_ai_cost import AICostInstrumentor
AICostInstrumentor().instrument()
end = time.process_time()
loaded = sorted(name for name in {sdks!r} if name in sys.modules)
print(json.dumps({{"preload_ms": (ours - start) * 1e3, "ours_ms": (end - ours) * 1e3, "sdks_loaded": loaded}}))
"""


@dataclass
class ImportResult:
    total_ms: float
    """Fresh interpreter (bytecode compiled beforehand): our import + instrument(), with every
    dependency imported on the way."""
    otel_ms: float
    """Importing OpenTelemetry (API, SDK, instrumentation base) and wrapt alone."""
    ours_ms: float
    """Our import + instrument() with those already imported."""
    sdks_loaded: list[str] = field(default_factory=list)


def _probe(preload: tuple[str, ...], pycache: str) -> dict[str, Any]:
    code = _IMPORT_PROBE.format(preload=preload, sdks=_NOT_AT_IMPORT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache  # bytecode as an installed package has it, kept out of the tree
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def measure_import(options: Options) -> ImportResult:
    total = otel = ours = float("inf")
    loaded: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="overhead-bench-pycache-") as pycache:
        _probe(_OTEL_PRELOAD, pycache)  # compiles every module once, untimed
        for run in range(options.import_runs):
            fresh = _probe((), pycache)
            preloaded = _probe(_OTEL_PRELOAD, pycache)
            total = min(total, fresh["ours_ms"])
            otel = min(otel, preloaded["preload_ms"])
            ours = min(ours, preloaded["ours_ms"])
            loaded.update(fresh["sdks_loaded"])
            progress(f"import run {run + 1}/{options.import_runs}: total {fresh['ours_ms']:.0f} ms")
    return ImportResult(total, otel, ours, sorted(loaded))


# ---------------------------------------------------------------------------------------------
# Resident memory.


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class RssResult:
    calls: int
    before_bytes: int
    after_bytes: int
    spans: int

    @property
    def growth_bytes(self) -> int:
        return self.after_bytes - self.before_bytes


def wire_calls() -> list[Callable[[], object]]:
    """The four requests sent with httpx2 directly, through the same instrumented `send` the SDK uses.

    100,000 calls through the openai SDK would take minutes (its own pydantic work dominates);
    what could leak is ours, and it is the same on this path.
    """
    base = "https://api.openai.com/v1"
    headers = {"content-type": "application/json", "authorization": "Bearer sk-bench-not-a-real-key"}
    messages = [{"role": "system", "content": "You suggest search completions."}, {"role": "user", "content": "pric"}]
    chat = httpx2.Client(transport=httpx2.MockTransport(_json_handler(CHAT_RESPONSE)))
    streaming = httpx2.Client(transport=httpx2.MockTransport(_stream_handler()))
    images = httpx2.Client(transport=httpx2.MockTransport(_json_handler(IMAGE_RESPONSE)))
    embeddings = httpx2.Client(transport=httpx2.MockTransport(_json_handler(EMBEDDING_RESPONSE)))
    chat_body = json.dumps({"messages": messages, "model": "gpt-4o-mini"}).encode()
    stream_body = json.dumps(
        {"messages": messages, "model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}}
    ).encode()
    image_body = json.dumps({"prompt": "a lighthouse at dawn, watercolour", "model": "dall-e-3"}).encode()
    embeddings_body = json.dumps(
        {"model": "text-embedding-3-small", "input": "where is my invoice?", "encoding_format": "base64"}
    ).encode()

    def chat_call() -> object:
        return chat.post(f"{base}/chat/completions", content=chat_body, headers=headers).content

    def stream_call() -> object:
        with streaming.stream("POST", f"{base}/chat/completions", content=stream_body, headers=headers) as response:
            return sum(len(piece) for piece in response.iter_bytes())

    def image_call() -> object:
        return images.post(f"{base}/images/generations", content=image_body, headers=headers).content

    def embeddings_call() -> object:
        return embeddings.post(f"{base}/embeddings", content=embeddings_body, headers=headers).content

    return [chat_call, embeddings_call, image_call, chat_call, embeddings_call, image_call, stream_call]


def measure_rss(sdk: Sdk, options: Options) -> RssResult:
    """A mix of the four requests (a stream every 7th), all instrumented."""
    sdk.instrument()
    mix = wire_calls()
    with tags(team="search", feature="autocomplete"):
        for i in range(options.rss_warmup):
            mix[i % len(mix)]()
        gc.collect()
        before = rss_bytes()
        spans_before = sdk.processor.count(OUR_SCOPE)
        step = max(1, options.rss_calls // 5)
        for i in range(options.rss_calls):
            mix[i % len(mix)]()
            if (i + 1) % step == 0:
                progress(f"rss: {i + 1:,} calls, {(rss_bytes() - before) / 1024:+.0f} KiB")
        gc.collect()
        after = rss_bytes()
    return RssResult(options.rss_calls, before, after, sdk.processor.count(OUR_SCOPE) - spans_before)


# ---------------------------------------------------------------------------------------------
# The report.


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(calls: list[CallResult], imports: ImportResult, rss: RssResult, preset: str) -> list[bool]:
    import opentelemetry.sdk.version

    print(
        f"otel-ai-cost overhead ({preset} run): openai {openai.__version__} on httpx2 {httpx2.__version__}, "
        f"OpenTelemetry SDK {opentelemetry.sdk.version.__version__}, Python {sys.version.split()[0]}"
    )
    print("\n[1/3] per-call overhead, CPU us per call (medians over adjacent blocks)")
    print("  floor = one span + the same metric records by hand around the call; 'alone' = that in a tight loop")
    print(
        f"  {'scenario':<24}{'baseline':>10}{'instr.':>10}{'overhead':>10}{'of call':>9}"
        f"{'floor':>9}{'ratio':>8}{'90% interval':>14}{'alone':>8}"
    )
    for r in calls:
        print(
            f"  {r.scenario:<24}{r.baseline_us:>10.1f}{r.instrumented_us:>10.1f}{r.overhead_us:>10.1f}"
            f"{r.overhead_us / r.baseline_us:>8.0%} {r.floor_us:>9.1f}{r.ratio:>7.2f}x"
            f"{f'{r.ratio_low:.2f}-{r.ratio_high:.2f}x':>14}{r.floor_alone_us:>8.1f}"
        )
    whole = next((r for r in calls if r.scenario == "chat completion"), None)
    for r in calls:
        if r.chunks:
            print(
                f"  per chunk of the stream: overhead {r.overhead_us / r.chunks:.2f} us, "
                f"beyond the floor {(r.overhead_us - r.floor_us) / r.chunks:.2f} us "
                f"(the SDK's own: {r.baseline_us / r.chunks:.1f} us per chunk)"
            )
            if whole is not None:
                print(
                    f"  the stream's overhead beyond the chat completion's: "
                    f"{(r.overhead_us - whole.overhead_us) / r.chunks:.2f} us per chunk; "
                    f"its parsing alone, in a tight loop: {stream_parse_us():.1f} us per stream"
                )
    print("  what was measured (spans per instrumented call, the span, its cost):")
    for r in calls:
        cost = f"${r.cost_usd:.7f}" if r.cost_usd is not None else "unpriced"
        print(f"    {r.scenario:<24} {r.spans_per_call:.2f}  {r.span_name!r:<34} {cost}")
    worst = max(calls, key=lambda r: r.ratio)
    call_ok = all(r.ratio <= OVERHEAD_RATIO_TARGET for r in calls)
    print(
        f"  target overhead <= {OVERHEAD_RATIO_TARGET}x floor: {verdict(call_ok)} "
        f"(worst {worst.ratio:.2f}x, {worst.scenario})"
    )

    print("\n[2/3] import otel_ai_cost + AICostInstrumentor().instrument(), fresh interpreter, CPU ms, best of runs")
    print(f"  total, nothing imported before        {imports.total_ms:7.1f} ms")
    print(f"  OpenTelemetry API/SDK + wrapt alone    {imports.otel_ms:7.1f} ms")
    print(f"  ours, OpenTelemetry already imported   {imports.ours_ms:7.1f} ms")
    print(f"  AI SDKs, HTTP libraries, pydantic imported by it: {', '.join(imports.sdks_loaded) or 'none'}")
    import_ok = imports.ours_ms <= IMPORT_TARGET_MS and not imports.sdks_loaded
    print(f"  target ours <= {IMPORT_TARGET_MS:.0f} ms, no SDK imported: {verdict(import_ok)}")

    print(f"\n[3/3] resident memory over {rss.calls:,} instrumented httpx2 calls after warm-up (/proc/self/statm)")
    print(f"  before {rss.before_bytes / 2**20:.1f} MiB, after {rss.after_bytes / 2**20:.1f} MiB")
    print(f"  growth {rss.growth_bytes / 1024:+.0f} KiB; spans made {rss.spans:,}")
    rss_ok = rss.growth_bytes <= RSS_TARGET_BYTES and rss.spans == rss.calls
    print(f"  target growth <= 1 MiB: {verdict(rss_ok)}")

    print("\nsummary")
    print(f"  per-call overhead <= {OVERHEAD_RATIO_TARGET}x floor   {verdict(call_ok)}")
    print(f"  import + instrument <= {IMPORT_TARGET_MS:.0f} ms   {verdict(import_ok)}")
    print(f"  RSS growth <= 1 MiB             {verdict(rss_ok)}")
    return [call_ok, import_ok, rss_ok]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer rounds and calls (about 30 s)")
    size.add_argument("--smoke", action="store_true", help="a few calls of each: checks the benchmark runs")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    preset = "smoke" if args.smoke else "quick" if args.quick else "default"
    options = PRESETS[preset]

    sdk = make_sdk()
    progress("per-call overhead")
    calls = measure_calls(sdk, options)
    progress("import time")
    imports = measure_import(options)
    progress("resident memory")
    rss = measure_rss(sdk, options)
    sdk.uninstrument()

    verdicts = report(calls, imports, rss, preset)
    if args.json:
        figures = {
            "preset": preset,
            "calls": [{**asdict(r), "overhead_us": r.overhead_us, "ratio": r.ratio} for r in calls],
            "import": asdict(imports),
            "rss": {**asdict(rss), "growth_bytes": rss.growth_bytes},
            "meets": {"overhead": verdicts[0], "import": verdicts[1], "rss": verdicts[2]},
        }
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)
    if args.check and not all(verdicts):
        sys.exit(1)


if __name__ == "__main__":
    main()
