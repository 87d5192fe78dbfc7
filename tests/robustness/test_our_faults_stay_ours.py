"""What goes wrong on our side of a call (a span processor that raises, an exception whose message
cannot be printed) never reaches the caller, and what goes into a span's status from an exception
message carries no credential and no prompt."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import botocore.exceptions
import httpx2
import openai
import pytest
import requests
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from otel_testkit import serving
from robustkit import Instrumented

from otel_ai_cost import AICostInstrumentor, PriceEngine

CHUNKS = [
    {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {}}]},
    {"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [], "usage": {}},
]
STREAM = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in CHUNKS) + b"data: [DONE]\n\n"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
GEMINI_KEY = "AIzaSyD-not-a-real-key-0123456789abcdef"
GEMINI_URL = (
    f"https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?key={GEMINI_KEY}"
)


class RaisingProcessor(SpanProcessor):
    """A span processor with a bug: raises when a span ends (the SDK calls it inside `span.end()`)."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("a span processor's bug")


@pytest.fixture
def raising(instrumented: Instrumented) -> RaisingProcessor:
    processor = RaisingProcessor()
    instrumented.tracer_provider.add_span_processor(processor)  # after the exporter's: it still gets the span
    return processor


def internal_errors(instrumented: Instrumented) -> dict[str, int]:
    counts = instrumented.sums_by("ai.cost.internal_errors", "ai.cost.error.where")
    return {where: count for (where,), count in counts.items()}


def stream_handler(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, content=iter([STREAM]), headers={"content-type": "text/event-stream"})


def test_a_span_processor_that_raises_at_a_streams_end_does_not_reach_the_caller(
    instrumented: Instrumented, raising: RaisingProcessor
) -> None:
    client = openai.OpenAI(api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(stream_handler)))
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True))
    assert [chunk.id for chunk in chunks] == ["c", "c"]
    assert len(instrumented.spans.get_finished_spans()) == 1  # processors before the one that raised ran
    assert internal_errors(instrumented) == {"record": 1}


def test_a_span_processor_that_raises_at_an_async_streams_end_does_not_reach_the_caller(
    instrumented: Instrumented, raising: RaisingProcessor
) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield STREAM

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    transport = httpx2.MockTransport(handler)
    client = openai.AsyncOpenAI(api_key="sk-test", http_client=httpx2.AsyncClient(transport=transport))

    async def read() -> list[str]:
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
        return [chunk.id async for chunk in stream]

    assert asyncio.run(read()) == ["c", "c"]
    assert len(instrumented.spans.get_finished_spans()) == 1
    assert internal_errors(instrumented) == {"record": 1}


class Unprintable(Exception):
    """An application's exception whose message needs two arguments and was given one."""

    def __str__(self) -> str:
        return "%s: %s" % self.args  # noqa: UP031 - the bug is the point


def test_an_exception_that_cannot_be_printed_reaches_the_caller_as_it_is(instrumented: Instrumented) -> None:
    def hook(response: httpx2.Response) -> None:
        raise Unprintable("one argument")

    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json={}))
    client = httpx2.Client(transport=transport, event_hooks={"response": [hook]})
    with pytest.raises(Unprintable):
        client.post("https://api.openai.com/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []})
    (span,) = instrumented.spans.get_finished_spans()
    assert (span.attributes or {})["error.type"] == "Unprintable"
    assert span.status.description == ""


def test_an_api_key_in_the_url_stays_out_of_the_status_httpx(instrumented: Instrumented) -> None:
    """Gemini's REST API takes the key as `?key=`; httpx's HTTPStatusError quotes the whole URL."""
    transport = httpx2.MockTransport(lambda request: httpx2.Response(400, json={"error": {"code": 400}}))
    raise_for_status = httpx2.Response.raise_for_status
    client = httpx2.Client(transport=transport, event_hooks={"response": [raise_for_status]})
    with pytest.raises(httpx2.HTTPStatusError) as raised:
        client.post(GEMINI_URL, json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert GEMINI_KEY in str(raised.value)  # what the status would have said
    (span,) = instrumented.spans.get_finished_spans()
    assert (span.attributes or {})["error.type"] == "HTTPStatusError"
    assert not span.status.description  # an exception's message is not exported


@pytest.mark.parametrize("key_end", ["\n", " ", "\r\n"])
def test_an_api_key_read_with_its_line_end_stays_out_of_the_status(
    instrumented: Instrumented, key_end: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key read from a secret file keeps its newline; h11, under httpx's real transport, refuses
    the header and its error quotes the whole value: `Illegal header value b'Bearer sk-...\\n'`."""
    key = "sk-proj-CANARY0123456789abcdefghijklmnopqrstuvwxyz"

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Answer)) as server:
        base = f"http://127.0.0.1:{server.server_address[1]}/v1"
        monkeypatch.setenv("OTEL_AI_COST_ENDPOINTS", f"{base}=openai:openai")
        AICostInstrumentor().uninstrument()
        AICostInstrumentor().instrument(tracer_provider=instrumented.tracer_provider, price_engine=PriceEngine())
        client = openai.OpenAI(api_key=key + key_end, base_url=base, max_retries=0)
        with pytest.raises(openai.APIConnectionError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert key in str(raised.value.__cause__)  # what the status would have said
    (span,) = instrumented.spans.get_finished_spans()
    assert (span.attributes or {})["error.type"] == "LocalProtocolError"
    assert key not in (span.status.description or "")


def test_an_api_key_in_the_url_stays_out_of_the_status_requests(instrumented: Instrumented) -> None:
    """requests' ConnectionError quotes the path and query of the URL it could not reach."""

    class Unreachable(requests.adapters.HTTPAdapter):
        """Sends to a closed port on loopback (the span is made before, for Google's host)."""

        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            request.url = (request.url or "").replace("https://generativelanguage.googleapis.com", "http://127.0.0.1:9")
            return super().send(request, **kwargs)

    session = requests.Session()
    session.mount("https://generativelanguage.googleapis.com", Unreachable(max_retries=0))
    with pytest.raises(requests.ConnectionError) as raised:
        session.post(GEMINI_URL, json={"contents": []}, timeout=5)
    assert GEMINI_KEY in str(raised.value)
    spans = instrumented.spans.get_finished_spans()
    assert spans, "the request was not seen as a Gemini call"
    for span in spans:
        assert GEMINI_KEY not in (span.status.description or "")


def test_a_bedrock_validation_error_keeps_the_prompt_out_of_the_status(instrumented: Instrumented) -> None:
    """botocore's ParamValidationError, raised before sending, quotes the invalid value: here the
    prompt (content given as a string instead of a list of blocks, a common mistake)."""
    prompt = "CONFIDENTIAL: the merger closes on Friday"
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x"
    )
    with pytest.raises(botocore.exceptions.ParamValidationError) as raised:
        client.converse(modelId=HAIKU, messages=[{"role": "user", "content": prompt}])
    assert prompt in str(raised.value)
    (span,) = instrumented.spans.get_finished_spans()
    assert (span.attributes or {})["error.type"] == "ParamValidationError"
    assert prompt not in (span.status.description or "")


def test_the_caller_sees_the_same_without_us(instrumented: Instrumented) -> None:
    """The control of the tests above: the same hook raises the same without instrumentation."""

    def hook(response: httpx2.Response) -> None:
        raise Unprintable("one argument")

    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json={}))
    client = httpx2.Client(transport=transport, event_hooks={"response": [hook]})
    with suppress_instrumentation(), pytest.raises(Unprintable):
        client.post("https://api.openai.com/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []})
    assert instrumented.spans.get_finished_spans() == ()


def test_a_stream_the_garbage_collector_frees_inside_the_sdk_does_not_deadlock(instrumented: Instrumented) -> None:
    """A streamed response dropped unread in a reference cycle is freed by the garbage collector,
    which runs at whatever allocation crosses its threshold: here, one the SDK makes while holding
    the (non-reentrant) lock of an instrument, creating the aggregation for new attributes. Ending
    the dropped call right there would record on that instrument and wait for that lock forever; it
    is ended at the start of the next call instead."""
    from opentelemetry.sdk.metrics._internal import _view_instrument_match

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent = json.loads(request.content)
        if sent.get("stream"):
            return httpx2.Response(200, content=iter([STREAM]), headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json={**CHUNKS[0], "object": "chat.completion", "model": sent["model"]})

    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    url = "https://api.openai.com/v1/chat/completions"
    match = _view_instrument_match._ViewInstrumentMatch
    create = match._get_or_create_aggregation  # a private method: if it moves, this test fails loudly

    def collect_then_create(self: Any, *args: Any, **kwargs: Any) -> Any:
        gc.collect()  # "an allocation under the lock started a collection"
        return create(self, *args, **kwargs)

    def scenario() -> None:
        gc.disable()
        try:
            dropped = client.send(client.build_request("POST", url, json={"model": "m", "stream": True}), stream=True)
            dropped.cycle = dropped  # type: ignore[attr-defined]
            del dropped
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(match, "_get_or_create_aggregation", collect_then_create)
                client.post(url, json={"model": "gpt-4o", "messages": []})
        finally:
            gc.enable()

    thread = threading.Thread(target=scenario, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "deadlocked: the freed stream's call was ended inside the SDK's lock"
    assert len(instrumented.spans.get_finished_spans()) == 1  # the post's; the dropped stream's waits
    client.post(url, json={"model": "gpt-4o-mini", "messages": []})
    names = sorted(span.name for span in instrumented.spans.get_finished_spans())
    assert names == ["chat gpt-4o", "chat gpt-4o-mini", "chat m"]
