"""A small multi-team workload for the FOCUS tests: the real openai SDK (OpenAI and Azure OpenAI) over
httpx2.MockTransport, instrumented by otel-ai-cost with a prices file that makes one Azure deployment a
provisioned (PTU) one, its spans kept in memory by the real OpenTelemetry SDK.

Prices (USD per 1M tokens, genai-prices): o4-mini input 1.10, cached input 0.275, output 4.40;
gpt-4o (Azure) input 2.50, cached input 1.25, output 10.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_testkit import metric_points

from otel_ai_cost import AICostInstrumentor, PriceEngine, tags

FIXTURES = Path(__file__).parent / "providers" / "fixtures"
AZURE_HOST = "contoso-eastus2.openai.azure.com"
PTU_DEPLOYMENT = "ptu-east"
UNKNOWN_MODEL = "mystery-model-x"
PRICES = f"""
deployments:
  - {{deployment: {PTU_DEPLOYMENT}, model: gpt-4o, provisioned: true}}
"""

# o4-mini fixture: 2006 input (1920 cached), 1275 output (1024 reasoning):
# 86 x 1.10 + 1920 x 0.275 + 1275 x 4.40 = 94.6 + 528 + 5610 = 6232.6 per 1M
O4_MINI_COST = 0.0062326
O4_MINI_TOKENS = 2006 + 1275
# Azure fixture (gpt-4o-2024-11-20): 1843 input (1664 cached), 19 output, pay-as-you-go:
# 179 x 2.50 + 1664 x 1.25 + 19 x 10 = 447.5 + 2080 + 190 = 2717.5 per 1M; provisioned, so effective 0
PTU_LIST_COST = 0.0027175
PTU_TOKENS = 1843 + 19

OPENAI_CHAT = (FIXTURES / "openai_chat_cached_reasoning.json").read_bytes()
AZURE_CHAT = (FIXTURES / "azure_chat_deployment.json").read_bytes()
RATE_LIMITED = json.dumps({"error": {"message": "Rate limit reached", "type": "requests"}}).encode()
JSON = {"content-type": "application/json"}
CHAT = [{"role": "user", "content": "secret prompt text"}]


def respond(request: httpx2.Request) -> httpx2.Response:
    if request.url.host == AZURE_HOST:
        return httpx2.Response(200, content=AZURE_CHAT, headers=JSON)
    body = json.loads(request.content or b"{}")
    if body.get("user") == "rate-limited":
        return httpx2.Response(429, content=RATE_LIMITED, headers=JSON)
    if body["model"] == UNKNOWN_MODEL:
        return httpx2.Response(
            200, content=OPENAI_CHAT.replace(b"o4-mini-2025-04-16", UNKNOWN_MODEL.encode()), headers=JSON
        )
    return httpx2.Response(200, content=OPENAI_CHAT, headers=JSON)


@dataclass
class Workload:
    spans: InMemorySpanExporter
    tracer_provider: TracerProvider
    metrics: InMemoryMetricReader
    oai: openai.OpenAI
    azure: openai.AzureOpenAI

    def o4_mini(self, **options: Any) -> None:
        self.oai.chat.completions.create(model="o4-mini", messages=CHAT, **options)  # type: ignore[arg-type]

    def ptu(self) -> None:
        self.azure.chat.completions.create(model=PTU_DEPLOYMENT, messages=CHAT)  # type: ignore[arg-type]

    def unknown_model(self) -> None:
        self.oai.chat.completions.create(model=UNKNOWN_MODEL, messages=CHAT)  # type: ignore[arg-type]

    def points(self, name: str) -> list[Any]:
        return metric_points(self.metrics, name)

    def run(self) -> list[ReadableSpan]:
        """2 search/answers o4-mini, 1 support/chatbot o4-mini, 1 search/answers PTU, 1 unpriced, 1 HTTP 429."""
        with tags(team="search", feature="answers"):
            self.o4_mini()
            self.o4_mini()
            self.ptu()
        with tags(team="support", feature="chatbot"):
            self.o4_mini()
            try:
                self.o4_mini(user="rate-limited")
            except openai.RateLimitError:
                pass
        with tags(team="research", feature="lab"):
            self.unknown_model()
        return list(self.spans.get_finished_spans())


@pytest.fixture(name="workload")
def workload_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workload]:
    for name in ("OTEL_AI_COST_DEFAULT_TAGS", "OTEL_AI_COST_REQUIRED_TAGS", "OTEL_AI_COST_ENDPOINTS"):
        monkeypatch.delenv(name, raising=False)
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES, encoding="utf-8")
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=Resource.create({"deployment.environment.name": "production"}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    instrumentor = AICostInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[metrics]),
        price_engine=PriceEngine(prices, reload_interval=0),
    )
    http = httpx2.Client(transport=httpx2.MockTransport(respond))
    try:
        yield Workload(
            spans,
            tracer_provider,
            metrics,
            openai.OpenAI(api_key="sk-test-not-a-key", http_client=http, max_retries=0),
            openai.AzureOpenAI(
                api_key="azure-test-not-a-key",
                azure_endpoint=f"https://{AZURE_HOST}",
                api_version="2024-10-21",
                http_client=http,
                max_retries=0,
            ),
        )
    finally:
        instrumentor.uninstrument()


def at(span: ReadableSpan, unix_nanos: int) -> ReadableSpan:
    """The same span, as if it had started at another time (to spread spans over hours)."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        kind=span.kind,
        status=span.status,
        start_time=unix_nanos,
        end_time=unix_nanos + 1_000_000,
        instrumentation_scope=span.instrumentation_scope,
    )
