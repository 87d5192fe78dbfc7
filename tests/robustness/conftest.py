"""The `instrumented` fixture: a real OpenTelemetry SDK with the instrumentation installed, its spans
in a ledger (see `robustkit`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from robustkit import Instrumented, SpanLedger

from otel_ai_cost import AICostInstrumentor, PriceEngine


@pytest.fixture
def instrumented(monkeypatch: pytest.MonkeyPatch) -> Iterator[Instrumented]:
    for name in [name for name in os.environ if name.startswith("OTEL_AI_COST_")]:
        monkeypatch.delenv(name)  # the defaults, whatever the shell running the tests has set
    ledger = SpanLedger()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(ledger)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = AICostInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, price_engine=PriceEngine())
    try:
        yield Instrumented(ledger, spans, reader, tracer_provider)
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()
