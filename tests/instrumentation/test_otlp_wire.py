"""What leaves the process, read on the OTLP wire: no prompt, completion, API key or Authorization
header, and hostile tag values sanitized and capped.

The real OTLP/HTTP exporters send protobuf to a receiver on loopback; the requests come from the real
openai and anthropic SDKs over MockTransport.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from otel_testkit import serving

from otel_ai_cost import AICostInstrumentor, PriceEngine, tags

PROMPT = "PROMPT-CANARY-4f1c: my password is hunter2"
COMPLETION = "COMPLETION-CANARY-9b2e"
OPENAI_KEY = "sk-proj-KEY-CANARY-0a7d"
ANTHROPIC_KEY = "sk-ant-KEY-CANARY-5e3b"
SECRETS = (PROMPT, "hunter2", COMPLETION, OPENAI_KEY, ANTHROPIC_KEY, "Bearer", "x-api-key", "authorization")
DISTINCT_FEATURES = 150  # over the default cap of 100 distinct values per dimension


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: dict[str, list[bytes]] = {"/v1/traces": [], "/v1/metrics": []}


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.bodies[self.path].append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as server:
        yield server


def chat_response(request: httpx2.Request) -> httpx2.Response:
    if request.url.path.endswith("/messages"):
        body: dict[str, Any] = {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-6",
            "content": [{"type": "text", "text": COMPLETION}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 40, "output_tokens": 12},
        }
    else:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": COMPLETION}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
        }
    return httpx2.Response(200, json=body)


def test_exported_telemetry_holds_no_content_or_credentials_and_capped_tags(receiver: Receiver) -> None:
    endpoint = f"http://127.0.0.1:{receiver.server_port}"
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", compression=Compression.Gzip))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", compression=Compression.Gzip),
        export_interval_millis=3_600_000,
    )
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = AICostInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, price_engine=PriceEngine())
    try:
        http = httpx2.Client(transport=httpx2.MockTransport(chat_response))
        oai = openai.OpenAI(api_key=OPENAI_KEY, http_client=http, max_retries=0)
        claude = anthropic.Anthropic(api_key=ANTHROPIC_KEY, http_client=http, max_retries=0)
        messages: Any = [{"role": "user", "content": PROMPT}]
        hostile_team = "evil\x00\x1b[31m team\u202e\n" + "x" * 10_000
        for i in range(DISTINCT_FEATURES):
            with tags(team=hostile_team, feature=f"feature-{i}"):
                oai.chat.completions.create(model="gpt-4o-mini", messages=messages)
        with tags(team="legal", feature="review"):
            reply = claude.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=messages)
        assert reply.content[0].text == COMPLETION  # type: ignore[union-attr]
        assert tracer_provider.force_flush() and meter_provider.force_flush()
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()

    wire = b"".join(receiver.bodies["/v1/traces"] + receiver.bodies["/v1/metrics"])
    assert receiver.bodies["/v1/traces"] and receiver.bodies["/v1/metrics"]
    for secret in SECRETS:
        assert secret.encode() not in wire, secret
        assert secret.lower().encode() not in wire.lower(), secret

    spans = []
    for body in receiver.bodies["/v1/traces"]:
        request = ExportTraceServiceRequest.FromString(body)
        spans += [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    assert len(spans) == DISTINCT_FEATURES + 1  # nothing lost
    span_teams = {attr.value.string_value for span in spans for attr in span.attributes if attr.key == "ai.cost.team"}
    # Control and bidi characters out, whitespace collapsed, 128 characters at most.
    assert span_teams == {"evil[31m team " + "x" * 114, "legal"}

    features: set[str] = set()
    for body in receiver.bodies["/v1/metrics"]:
        request = ExportMetricsServiceRequest.FromString(body)
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == "gen_ai.client.cost":
                        for point in metric.sum.data_points:
                            attributes = {a.key: a.value.string_value for a in point.attributes}
                            features.add(attributes["ai.cost.feature"])
    # The first 100 distinct values of the dimension, then `other` for the rest, legal's review included
    # (its spans keep the real value).
    assert len(features) == 100 + 1 and "other" in features and "review" not in features
    assert json.dumps(sorted(features)).count("feature-") == 100
