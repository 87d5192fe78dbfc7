"""The `requests` transport: real `requests` against a loopback HTTP server with recorded responses.

The server (http.server in a thread) answers as Groq, Stability AI, Black Forest Labs and a vLLM
server do; `OTEL_AI_COST_ENDPOINTS` maps its paths to those protocols.

Prices: Groq llama-3.3-70b-versatile input $0.59, output $0.79 per 1M tokens; Stable Image Ultra
8 credits x $0.01; the vLLM model at the overrides file's internal $0.40 / $1.20 per 1M tokens.
"""

from __future__ import annotations

import gc
import gzip
import io
import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import requests
import wrapt
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_testkit import serving

from otel_ai_cost import AICostInstrumentor, BudgetExceeded, PriceEngine, budget, tags

if TYPE_CHECKING:
    from .conftest import Telemetry

GROQ_MODEL = "llama-3.3-70b-versatile"
GROQ_RESPONSE = {
    "id": "chatcmpl-f51b2cd2-bef7-417e-964e-a08f0b513c22",
    "object": "chat.completion",
    "created": 1730241104,
    "model": GROQ_MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Fast inference."}, "finish_reason": "stop"}],
    "usage": {
        "queue_time": 0.037493756,
        "prompt_tokens": 1000,
        "prompt_time": 0.000680594,
        "completion_tokens": 200,
        "completion_time": 0.463333333,
        "total_tokens": 1200,
        "total_time": 0.464013927,
    },
    "system_fingerprint": "fp_179b0f92c9",
    "x_groq": {"id": "req_01jbd6g2qdfw2adyrt2az8hz4w"},
}
# 1000 x 0.59 + 200 x 0.79 = 590 + 158 = 748 per 1M
GROQ_COST = 0.000748


def groq_chunk(content: str | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {
        "id": "chatcmpl-7c1a",
        "object": "chat.completion.chunk",
        "created": 1730241104,
        "model": GROQ_MODEL,
        "system_fingerprint": "fp_179b0f92c9",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


GROQ_STREAM = (
    b"".join(
        b"data: " + json.dumps(event).encode() + b"\n\n"
        for event in [
            groq_chunk("", x_groq={"id": "req_01jbd6g2qdfw2adyrt2az8hz4w"}),
            *[groq_chunk(f"word{i} ") for i in range(30)],
            groq_chunk(
                None,
                "stop",
                x_groq={
                    "id": "req_01jbd6g2qdfw2adyrt2az8hz4w",
                    "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
                },
            ),
        ]
    )
    + b"data: [DONE]\n\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
VLLM_RESPONSE = {
    "id": "chatcmpl-9b2f8a4c1d",
    "object": "chat.completion",
    "created": 1733000000,
    "model": "llama-3.1-70b-internal",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 2500, "completion_tokens": 400, "total_tokens": 2900},
}
# 2500 x 0.40 + 400 x 1.20 = 1000 + 480 = 1480 per 1M
VLLM_COST = 0.00148


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, bytes]]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, b""))
        self.reply(200, json.dumps({"id": "job-1", "status": "Ready", "result": {"sample": "https://x"}}).encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.seen.append(("POST", self.path, body))
        path = self.path
        if path.startswith("/old/"):
            self.send_response(307)
            self.send_header("location", path[len("/old") :])
            self.send_header("content-length", "0")
            self.end_headers()
        elif path.startswith("/limited/"):
            self.reply(429, b'{"error": {"message": "Rate limit reached", "type": "tokens"}}')
        elif path.startswith("/cut/"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(GROQ_STREAM)))
            self.end_headers()
            self.wfile.write(GROQ_STREAM[:300])  # then the connection closes: an incomplete body
            self.close_connection = True
        elif path.endswith("/chat/completions") and "/vllm/" in path:
            self.reply(200, json.dumps(VLLM_RESPONSE).encode())
        elif path.endswith("/chat/completions"):
            if json.loads(body).get("stream"):
                self.reply(200, GROQ_STREAM, "text/event-stream")
            elif path.startswith("/gz/"):
                self.reply(200, gzip.compress(json.dumps(GROQ_RESPONSE).encode()), encoding="gzip")
            else:
                self.reply(200, json.dumps(GROQ_RESPONSE).encode())
        elif path.startswith("/v2beta/stable-image/"):
            self.reply(200, PNG, "image/png")
        elif path.startswith("/v1/flux"):
            polling = f"http://{self.headers['host']}/v1/get_result?id=job-1"
            self.reply(200, json.dumps({"id": "job-1", "polling_url": polling, "cost": 4.0}).encode())
        else:
            self.reply(404, b'{"detail": "Not Found"}')

    def reply(self, status: int, body: bytes, content_type: str = "application/json", encoding: str = "") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        if encoding:
            self.send_header("content-encoding", encoding)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that closes a stream early breaks the server's write: expected here


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    seen: list[tuple[str, str, bytes]] = []
    handler = type("RecordingHandler", (Handler,), {"seen": seen})
    with serving(QuietServer(("127.0.0.1", 0), handler)) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen


def endpoint_map(base: str) -> str:
    return ",".join(
        [
            f"{base}/openai/v1=openai:groq",
            f"{base}/gz/openai/v1=openai:groq",
            f"{base}/old/openai/v1=openai:groq",
            f"{base}/limited/openai/v1=openai:groq",
            f"{base}/cut/openai/v1=openai:groq",
            f"{base}/vllm/v1=openai:vllm",
            f"{base}/v2beta=stability",
            f"{base}/v1=bfl",
        ]
    )


@pytest.fixture
def base(server: tuple[str, list[Any]], telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> str:
    url = server[0]
    monkeypatch.setenv("OTEL_AI_COST_ENDPOINTS", endpoint_map(url))
    telemetry.reinstrument()
    return url


CHAT = {"model": GROQ_MODEL, "messages": [{"role": "user", "content": "secret prompt"}]}


def test_a_plain_post_is_one_priced_span(base: str, telemetry: Telemetry) -> None:
    with tags(team="search", feature="autocomplete"):
        response = requests.post(f"{base}/openai/v1/chat/completions", json=CHAT, timeout=10)
    assert response.json() == GROQ_RESPONSE
    span = telemetry.one_span()
    attributes = span.attributes or {}
    assert span.name == f"chat {GROQ_MODEL}"
    assert attributes["gen_ai.provider.name"] == "groq"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (1000, 200)
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(GROQ_COST)
    assert attributes["gen_ai.response.id"] == GROQ_RESPONSE["id"]
    assert attributes["ai.cost.team"] == "search"
    assert attributes["server.address"] == "127.0.0.1"
    assert "secret prompt" not in json.dumps(dict(attributes))
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "search"}) == pytest.approx(GROQ_COST)


def test_a_stream_read_line_by_line_gives_the_same_bytes_and_one_span_at_its_end(
    base: str, telemetry: Telemetry
) -> None:
    with requests.post(f"{base}/openai/v1/chat/completions", json={**CHAT, "stream": True}, stream=True) as response:
        assert telemetry.finished() == []  # nothing read yet: the span is still open
        lines = list(response.iter_lines())
    assert lines == GROQ_STREAM.split(b"\n")[:-1]  # iter_lines drops the line ends
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(GROQ_COST)
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_stream_content_and_raw_reads_are_seen(base: str, telemetry: Telemetry) -> None:
    response = requests.post(f"{base}/openai/v1/chat/completions", json={**CHAT, "stream": True}, stream=True)
    assert response.content == GROQ_STREAM  # .content reads through iter_content
    compressed = requests.post(f"{base}/gz/openai/v1/chat/completions", json=CHAT, stream=True)
    raw = compressed.raw.read()  # undecoded bytes, read past requests: decoded on our copy
    assert gzip.decompress(raw) == json.dumps(GROQ_RESPONSE).encode()
    decoded = requests.post(f"{base}/gz/openai/v1/chat/completions", json=CHAT, stream=True)
    assert decoded.json() == GROQ_RESPONSE  # requests undoes the gzip itself
    spans = telemetry.finished()
    assert len(spans) == 3
    for span in spans:
        assert (span.attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(GROQ_COST)


def test_a_stream_read_with_read1_is_priced_at_its_end(base: str, telemetry: Telemetry) -> None:
    """Unsized, `read1()` returns what one read gives, not the whole body: the span waits for the end."""
    with requests.post(f"{base}/openai/v1/chat/completions", json={**CHAT, "stream": True}, stream=True) as response:
        pieces = []
        while piece := response.raw.read1():
            pieces.append(piece)
            if len(pieces) == 1:
                assert telemetry.finished() == []
    assert b"".join(pieces) == GROQ_STREAM
    assert (telemetry.one_span().attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(GROQ_COST)


class FileLikeAdapter(requests.adapters.BaseAdapter):
    """A custom adapter (a test double, a cache) whose responses' `raw` is a plain file object."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.headers["content-type"] = "application/json"
        response.raw = io.BytesIO(json.dumps(GROQ_RESPONSE, indent=1).encode())  # many lines
        response.url, response.request = request.url or "", request
        return response

    def close(self) -> None:
        pass


@pytest.mark.parametrize("read", ["iter_content", "raw.read", "json", "raw lines", "raw.readline", "raw.readlines"])
def test_a_raw_that_is_a_plain_file_object_reads_as_without_us(base: str, telemetry: Telemetry, read: str) -> None:
    session = requests.Session()
    session.mount(base, FileLikeAdapter())
    response = session.post(f"{base}/openai/v1/chat/completions", json=CHAT, stream=True)
    if read == "iter_content":
        body = b"".join(response.iter_content(64))
    elif read == "raw.read":
        body = response.raw.read()
    elif read == "raw lines":
        body = b"".join(line for line in response.raw)
    elif read == "raw.readline":
        body = b"".join(iter(response.raw.readline, b""))
    elif read == "raw.readlines":
        body = b"".join(response.raw.readlines())
    else:
        body = json.dumps(response.json()).encode()
    assert json.loads(body) == GROQ_RESPONSE
    assert (telemetry.one_span().attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(GROQ_COST)
    assert telemetry.points("ai.cost.internal_errors") == []


@pytest.mark.parametrize("hint", [None, -1, 1, 2, 3, 10**9])
def test_readlines_of_a_file_like_raw_keeps_io_semantics(base: str, telemetry: Telemetry, hint: int | None) -> None:
    session = requests.Session()
    session.mount(base, FileLikeAdapter())
    response = session.post(f"{base}/openai/v1/chat/completions", json=CHAT, stream=True)
    expected = io.BytesIO(json.dumps(GROQ_RESPONSE, indent=1).encode()).readlines(hint)  # "{\n" is 2 bytes
    assert response.raw.readlines(hint) == expected


def test_a_stream_closed_early_ends_its_span_once_with_what_was_read(base: str, telemetry: Telemetry) -> None:
    with requests.post(f"{base}/openai/v1/chat/completions", json={**CHAT, "stream": True}, stream=True) as response:
        next(response.iter_lines())
    response.close()
    attributes = telemetry.one_span().attributes or {}
    assert attributes["ai.cost.priced"] is False
    assert attributes["ai.cost.unpriced_reason"] == "no_usage"


def test_a_stream_dropped_unread_still_ends_its_span(base: str, telemetry: Telemetry) -> None:
    response = requests.post(f"{base}/openai/v1/chat/completions", json={**CHAT, "stream": True}, stream=True)
    assert telemetry.finished() == []
    del response
    gc.collect()
    assert (telemetry.one_span().attributes or {})["ai.cost.unpriced_reason"] == "no_usage"


def test_a_stream_that_breaks_off_fails_the_span_and_raises_what_requests_raises(
    base: str, telemetry: Telemetry
) -> None:
    response = requests.post(f"{base}/cut/openai/v1/chat/completions", json={**CHAT, "stream": True}, stream=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        list(response.iter_content(64))
    span = telemetry.one_span()
    assert (span.attributes or {})["error.type"] == "ProtocolError"
    assert "gen_ai.usage.cost.amount" not in (span.attributes or {})


def test_http_error_status_is_an_error_type_without_cost(base: str, telemetry: Telemetry) -> None:
    response = requests.post(f"{base}/limited/openai/v1/chat/completions", json=CHAT)
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "tokens"
    attributes = telemetry.one_span().attributes or {}
    assert attributes["error.type"] == "429"
    assert "gen_ai.usage.cost.amount" not in attributes
    assert telemetry.total("ai.cost.requests", **{"error.type": "429"}) == 1


def test_a_connection_error_is_re_raised_untouched(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("OTEL_AI_COST_ENDPOINTS", f"http://127.0.0.1:{closed_port}/openai/v1=openai:groq")
    telemetry.reinstrument()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"http://127.0.0.1:{closed_port}/openai/v1/chat/completions", json=CHAT, timeout=5)
    assert (telemetry.one_span().attributes or {})["error.type"] == "ConnectionError"


def test_a_redirect_is_one_span_for_the_request_the_caller_made(
    base: str, telemetry: Telemetry, server: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    response = requests.post(f"{base}/old/openai/v1/chat/completions", json=CHAT)
    assert response.json() == GROQ_RESPONSE and [r.status_code for r in response.history] == [307]
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(GROQ_COST)


def test_stability_multipart_image_request(base: str, telemetry: Telemetry) -> None:
    response = requests.post(
        f"{base}/v2beta/stable-image/generate/ultra",
        headers={"authorization": "Bearer sk-test", "accept": "image/*"},
        files={"none": ""},
        data={"prompt": "a lighthouse at dusk", "output_format": "png"},
    )
    assert response.content == PNG
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "stability_ai"
    assert attributes["gen_ai.request.model"] == "stable-image-ultra"
    assert attributes["ai.image.count"] == 1
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.08)  # 8 credits x $0.01


def test_bfl_submission_is_priced_by_its_cost_and_polling_is_not_billed(base: str, telemetry: Telemetry) -> None:
    job = requests.post(f"{base}/v1/flux-pro-1.1", json={"prompt": "a fox", "width": 1024, "height": 768}).json()
    assert requests.get(job["polling_url"]).json()["status"] == "Ready"
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "black_forest_labs"
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.04)  # cost 4 credits x $0.01
    assert attributes["ai.cost.price_source"] == "provider"


def test_vllm_endpoint_priced_by_the_overrides_file(
    server: tuple[str, list[Any]], telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "models:\n  - provider: vllm\n    model: llama-3.1-70b-internal\n    tokens: {input: 0.40, output: 1.20}\n"
    )
    monkeypatch.setenv("OTEL_AI_COST_ENDPOINTS", endpoint_map(server[0]))
    AICostInstrumentor().uninstrument()
    AICostInstrumentor().instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        price_engine=PriceEngine(prices),
    )
    body = {"model": "llama-3.1-70b-internal", "messages": [{"role": "user", "content": "hi"}]}
    requests.post(f"{server[0]}/vllm/v1/chat/completions", json=body)
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "vllm"
    assert attributes["ai.cost.price_source"] == "overrides"
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(VLLM_COST)


def test_a_spent_budget_stops_a_requests_call_before_it_is_sent(
    base: str, telemetry: Telemetry, server: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    seen = server[1]
    with budget(requests=1, name="one-call") as limit:
        requests.post(f"{base}/openai/v1/chat/completions", json=CHAT)
        sent = len(seen)
        with pytest.raises(BudgetExceeded):
            requests.post(f"{base}/openai/v1/chat/completions", json=CHAT)
    assert len(seen) == sent  # the second request never left the process
    assert limit.spent.usd == pytest.approx(GROQ_COST)
    assert len(telemetry.finished()) == 1


def test_other_hosts_and_paths_are_left_alone(base: str, telemetry: Telemetry) -> None:
    assert requests.post(f"{base}/elsewhere", json={}).status_code == 404
    assert requests.get(f"{base}/openai/v1/models").status_code == 200
    assert telemetry.finished() == []


class RequestsBackedTransport(httpx.BaseTransport):
    """An httpx transport that sends with requests: both libraries see the same request."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = requests.post(
            str(request.url), data=request.read(), headers={"content-type": request.headers["content-type"]}
        )
        return httpx.Response(sent.status_code, headers={"content-type": "application/json"}, content=sent.content)


def test_a_request_seen_by_httpx_and_requests_is_counted_once(base: str, telemetry: Telemetry) -> None:
    with httpx.Client(transport=RequestsBackedTransport()) as client:
        assert client.post(f"{base}/openai/v1/chat/completions", json=CHAT).json() == GROQ_RESPONSE
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(GROQ_COST)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(GROQ_COST)


def test_uninstrument_under_a_later_plain_function_wrapper_and_instrument_again(
    base: str, telemetry: Telemetry
) -> None:
    """opentelemetry-instrumentation-requests replaces `Session.send` with a plain function calling
    the one it found (ours): ours cannot be unwrapped from under it, so it is switched off, and
    instrumenting again records to the new providers, once."""
    ours = requests.Session.send  # as the other instrumentation takes it: bound through the class

    def instrumented_send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        return ours(self, request, **kwargs)

    requests.Session.send = instrumented_send  # type: ignore[method-assign]
    try:
        AICostInstrumentor().uninstrument()
        assert requests.Session.__dict__["send"] is instrumented_send  # the other wrapper stays in place
        requests.post(f"{base}/openai/v1/chat/completions", json=CHAT)
        assert telemetry.finished() == []

        spans = InMemorySpanExporter()
        second = TracerProvider()
        second.add_span_processor(SimpleSpanProcessor(spans))
        AICostInstrumentor().instrument(tracer_provider=second, price_engine=PriceEngine())
        requests.post(f"{base}/openai/v1/chat/completions", json=CHAT)
        assert telemetry.finished() == []
        assert [span.attributes["gen_ai.usage.cost.amount"] for span in spans.get_finished_spans()] == [
            pytest.approx(GROQ_COST)
        ]
    finally:
        AICostInstrumentor().uninstrument()
        requests.Session.send = requests.Session.__dict__["send"]  # type: ignore[method-assign]
        while isinstance(requests.Session.__dict__["send"], wrapt.FunctionWrapper):
            requests.Session.send = requests.Session.__dict__["send"].__wrapped__  # type: ignore[method-assign]
        AICostInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)  # for the fixture to undo


def test_instrument_twice_wraps_once_and_uninstrument_restores_session_send(base: str, telemetry: Telemetry) -> None:
    send = requests.Session.__dict__["send"]
    assert isinstance(send, wrapt.FunctionWrapper)
    AICostInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)
    assert requests.Session.__dict__["send"] is send
    requests.post(f"{base}/openai/v1/chat/completions", json=CHAT)
    assert len(telemetry.finished()) == 1
    AICostInstrumentor().uninstrument()
    assert not isinstance(requests.Session.__dict__["send"], wrapt.FunctionWrapper)
    requests.post(f"{base}/openai/v1/chat/completions", json=CHAT)
    assert len(telemetry.finished()) == 1
