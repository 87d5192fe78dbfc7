"""A real OpenTelemetry SDK (in-memory exporters) with the instrumentation installed for each test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_testkit import metric_points

from otel_ai_cost import AICostInstrumentor, PriceEngine


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def reinstrument(self) -> None:
        """Instrument again, e.g. after changing OTEL_AI_COST_* settings."""
        AICostInstrumentor().uninstrument()
        AICostInstrumentor().instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, price_engine=PriceEngine()
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def one_span(self) -> ReadableSpan:
        spans = self.finished()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        return metric_points(self.metrics, name)

    def total(self, name: str, **attributes: Any) -> float:
        return sum(p.value for p in self.points(name) if all(p.attributes.get(k) == v for k, v in attributes.items()))


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    for name in (
        "OTEL_AI_COST_DEFAULT_TAGS",
        "OTEL_AI_COST_REQUIRED_TAGS",
        "OTEL_AI_COST_ENDPOINTS",
        "OTEL_AI_COST_ESTIMATE_STREAM_USAGE",
        "OTEL_AI_COST_SEMCONV_METRICS",
    ):
        monkeypatch.delenv(name, raising=False)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=Resource.create({"deployment.environment.name": "test"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = AICostInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, price_engine=PriceEngine())
    try:
        yield Telemetry(spans, reader, tracer_provider, meter_provider)
    finally:
        instrumentor.uninstrument()
