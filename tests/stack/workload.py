"""A scripted multi-team app for the real-Prometheus tests: the real openai and anthropic SDKs over
httpx2.MockTransport with recorded responses, instrumented by otel-ai-cost, its metrics served in the
Prometheus text format by OpenTelemetry's Prometheus exporter.

    python workload.py STATE_DIR ROUNDS

Writes STATE_DIR/port once /metrics is served, runs ROUNDS rounds of requests (a pause between them,
so Prometheus scrapes the counters as they grow), writes STATE_DIR/done.json with the exact totals
taken from the finished spans, then serves until killed.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import start_http_server

from otel_ai_cost import AICostInstrumentor, PriceEngine, tags, workflow
from otel_ai_cost.pricing import Cost
from otel_ai_cost.usage import Usage

FIXTURES = Path(__file__).parent.parent / "providers" / "fixtures"
PAUSE_SECONDS = 0.4
UNKNOWN_MODEL = "mystery-model-x"
EXPLODING_MODEL = "explode-1"
AZURE_HOST = "contoso-eastus2.openai.azure.com"
# An Azure OpenAI provisioned (PTU) deployment: requests cost 0, their pay-as-you-go price is ai.cost.list_cost.
PRICES = "deployments:\n  - {deployment: ptu-east, model: gpt-4o, provisioned: true}\n"


def fixture(name: str, **changes: Any) -> bytes:
    body = json.loads((FIXTURES / name).read_text())
    body.update(changes)
    return json.dumps(body).encode()


RESPONSES = {
    "o4-mini": fixture("openai_chat_cached_reasoning.json"),
    UNKNOWN_MODEL: fixture("openai_chat_cached_reasoning.json", model=UNKNOWN_MODEL),
    EXPLODING_MODEL: fixture("openai_chat_cached_reasoning.json", model=EXPLODING_MODEL),
    "embeddings": fixture("openai_embeddings.json"),
    "dall-e-3": fixture("openai_dalle3_n2_hd.json"),
    "gpt-image-1": fixture("openai_gpt_image_1.json"),
    "anthropic": fixture("anthropic_message_cache.json"),
    "azure": fixture("azure_chat_deployment.json"),
}
RATE_LIMITED = json.dumps({"error": {"message": "Rate limit reached", "type": "requests"}}).encode()


def respond(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content or b"{}")
    path = request.url.path
    if request.url.host == AZURE_HOST:
        return httpx2.Response(200, content=RESPONSES["azure"], headers={"content-type": "application/json"})
    if path.endswith("/messages"):
        return httpx2.Response(200, content=RESPONSES["anthropic"], headers={"content-type": "application/json"})
    if body.get("user") == "rate-limited":
        return httpx2.Response(429, content=RATE_LIMITED, headers={"content-type": "application/json"})
    key = "embeddings" if path.endswith("/embeddings") else body["model"]  # chat and images by model
    return httpx2.Response(200, content=RESPONSES[key], headers={"content-type": "application/json"})


class ExplodingPriceEngine(PriceEngine):
    """Fails inside the instrumentation for one model, to show ai.cost.internal_errors end to end."""

    def price(self, usage: Usage) -> Cost:
        if usage.request_model == EXPLODING_MODEL:
            raise RuntimeError("a bug inside otel-ai-cost")
        return super().price(usage)


def one_round(oai: openai.OpenAI, claude: anthropic.Anthropic, azure: openai.AzureOpenAI) -> None:
    chat = [{"role": "user", "content": "secret prompt text"}]
    with tags(team="search", feature="answers", cost_center="cc-100"):
        oai.chat.completions.create(model="o4-mini", messages=chat)  # type: ignore[arg-type]
    with tags(team="search", feature="semantic-index", cost_center="cc-100"):
        oai.embeddings.create(model="text-embedding-3-small", input="a document")
        azure.chat.completions.create(model="ptu-east", messages=chat)  # type: ignore[arg-type]
    with tags(team="support", feature="chatbot"), workflow("support-reply") as reply:
        oai.chat.completions.create(model="o4-mini", messages=chat)  # type: ignore[arg-type]
        claude.messages.create(model="claude-sonnet-4-5", max_tokens=512, messages=chat)  # type: ignore[arg-type]
        try:
            oai.chat.completions.create(model="o4-mini", messages=chat, user="rate-limited")  # type: ignore[arg-type]
        except openai.RateLimitError:
            pass
        reply.outcome = "success"
    with tags(team="marketing", feature="campaign-images"):
        oai.images.generate(model="dall-e-3", prompt="a lighthouse", n=2, size="1024x1024", quality="hd")
        oai.images.generate(model="gpt-image-1", prompt="a lighthouse", size="1024x1024", quality="high")
    with tags(team="research", feature="lab"), workflow("lab-run") as lab:
        lab.outcome = "needs_review"
        oai.chat.completions.create(model=UNKNOWN_MODEL, messages=chat)  # type: ignore[arg-type]
        oai.chat.completions.create(model=EXPLODING_MODEL, messages=chat)  # type: ignore[arg-type]
    oai.chat.completions.create(model="o4-mini", messages=chat)  # type: ignore[arg-type]  # nobody tagged it


def totals(spans: InMemorySpanExporter) -> dict[str, Any]:
    cost_by_team: dict[str, float] = defaultdict(float)
    cost_by_workflow: dict[str, float] = defaultdict(float)
    requests = 0
    for span in spans.get_finished_spans():
        attributes = span.attributes or {}
        if span.kind != SpanKind.CLIENT:  # a workflow span, not a request
            name, cost = attributes["ai.cost.workflow.name"], attributes["ai.cost.workflow.cost"]
            cost_by_workflow[str(name)] += float(cost)  # type: ignore[arg-type]
            continue
        requests += 1
        cost = attributes.get("gen_ai.usage.cost.amount")
        if isinstance(cost, float):
            cost_by_team[str(attributes["ai.cost.team"])] += cost
    return {
        "cost_by_team": dict(cost_by_team),
        "cost_by_workflow": dict(cost_by_workflow),
        "requests": requests,
        "finished_at": time.time(),
    }


def _prices_file(state: Path) -> Path:
    path = state / "prices.yaml"
    path.write_text(PRICES)
    return path


def main() -> None:
    state, rounds = Path(sys.argv[1]), int(sys.argv[2])
    resource = Resource.create({"service.name": "stack-workload", "deployment.environment.name": "production"})
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    meter_provider = MeterProvider(resource=resource, metric_readers=[PrometheusMetricReader()])
    AICostInstrumentor().instrument(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        price_engine=ExplodingPriceEngine(_prices_file(state)),
    )
    server, _ = start_http_server(0, addr="127.0.0.1")
    (state / "port").write_text(str(server.server_port))

    http = httpx2.Client(transport=httpx2.MockTransport(respond))
    oai = openai.OpenAI(api_key="sk-test-not-a-key", http_client=http, max_retries=0)
    claude = anthropic.Anthropic(api_key="sk-ant-test-not-a-key", http_client=http, max_retries=0)
    azure = openai.AzureOpenAI(
        api_key="azure-test-not-a-key",
        azure_endpoint=f"https://{AZURE_HOST}",
        api_version="2024-10-21",
        http_client=http,
        max_retries=0,
    )
    for _ in range(rounds):
        one_round(oai, claude, azure)
        time.sleep(PAUSE_SECONDS)
    (state / "done.json").write_text(json.dumps(totals(spans)))
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
