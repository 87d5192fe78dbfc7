"""The real openai SDK (3.x, on httpx2, and with a legacy httpx client) through MockTransport.

Prices (USD per 1M tokens): gpt-4o-mini input 0.15, cached input 0.075, output 0.60.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import openai
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

from otel_ai_cost import tags

if TYPE_CHECKING:
    from .conftest import Telemetry

CHAT_RESPONSE = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help?", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_06737a9306",
}
# 176 x 0.15 + 1024 x 0.075 + 300 x 0.60 = 26.4 + 76.8 + 180 = 283.2 per 1M
CHAT_COST = 0.0002832

STREAM_EVENTS = [
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        "usage": None,
    },
    *[
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": {"content": f"word{i} "}, "finish_reason": None}],
            "usage": None,
        }
        for i in range(20)
    ],
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": None,
    },
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 500,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    },
]
# 1000 x 0.15 + 500 x 0.60 = 150 + 300 = 450 per 1M
STREAM_COST = 0.00045


def sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


class Chunked(httpx2.SyncByteStream):
    """A response body that arrives in small pieces, as from a socket."""

    def __init__(self, body: bytes, size: int = 7) -> None:
        self.pieces = [body[i : i + size] for i in range(0, len(body), size)]

    def __iter__(self) -> Any:
        yield from self.pieces


def handler(status: int = 200, body: bytes | None = None, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    seen: list[Any] = []

    def handle(request: Any) -> Any:
        seen.append(request)
        payload = body if body is not None else json.dumps(CHAT_RESPONSE).encode()
        headers = {"content-type": content_type}
        if isinstance(request, httpx.Request):
            return httpx.Response(status, content=payload, headers=headers)
        if content_type == "text/event-stream":
            return httpx2.Response(status, stream=Chunked(payload), headers=headers)
        return httpx2.Response(status, content=payload, headers=headers)

    handle.seen = seen  # type: ignore[attr-defined]
    return handle


def client(handle: Any) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-test-not-a-real-key",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handle)),
    )


def ask(c: openai.OpenAI, **extra: Any) -> Any:
    return c.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "secret prompt"}], **extra
    )


def test_chat_completion_span_and_metrics(telemetry: Telemetry) -> None:
    with tags(team="search", feature="autocomplete"):
        result = ask(client(handler()))
    assert result.choices[0].message.content == "Hello! How can I help?"

    span = telemetry.one_span()
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-4o-mini"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attrs["gen_ai.response.id"] == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert attrs["gen_ai.usage.input_tokens"] == 1200
    assert attrs["gen_ai.usage.output_tokens"] == 300
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 1024
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(CHAT_COST)
    assert attrs["gen_ai.usage.cost.currency"] == "USD"
    assert attrs["ai.cost.priced"] is True
    assert attrs["ai.cost.team"] == "search" and attrs["ai.cost.feature"] == "autocomplete"
    assert attrs["ai.cost.environment"] == "test"  # from the resource
    assert attrs["ai.cost.untagged"] is False
    assert attrs["server.address"] == "api.openai.com"
    assert "secret prompt" not in json.dumps(attrs) and "sk-test" not in json.dumps(attrs)

    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "search"}) == pytest.approx(CHAT_COST)
    assert telemetry.total("ai.cost.tokens", **{"ai.cost.token.type": "cache_read"}) == 1024
    assert telemetry.total("ai.cost.requests", **{"ai.cost.team": "search", "gen_ai.request.model": "gpt-4o-mini"}) == 1


def test_untagged_request_is_visible(telemetry: Telemetry) -> None:
    ask(client(handler()))
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.cost.untagged"] is True
    assert attrs["ai.cost.team"] == "untagged" and attrs["ai.cost.feature"] == "untagged"
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "untagged"}) == pytest.approx(CHAT_COST)


def test_stream_with_usage(telemetry: Telemetry) -> None:
    with tags(team="chat", feature="assistant"):
        stream = ask(
            client(handler(body=sse(STREAM_EVENTS), content_type="text/event-stream")),
            stream=True,
            stream_options={"include_usage": True},
        )
        assert telemetry.finished() == []  # the span ends when the stream does
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("word0 word1")
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.usage.input_tokens"] == 1000 and attrs["gen_ai.usage.output_tokens"] == 500
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)


def test_stream_without_usage_is_unpriced_no_usage(telemetry: Telemetry) -> None:
    stream = ask(client(handler(body=sse(STREAM_EVENTS[:-1]), content_type="text/event-stream")), stream=True)
    for _ in stream:
        pass
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.cost.priced"] is False and attrs["ai.cost.unpriced_reason"] == "no_usage"
    assert telemetry.total("ai.cost.unpriced", **{"ai.cost.unpriced_reason": "no_usage"}) == 1


def test_stream_closed_early_still_ends_the_span(telemetry: Telemetry) -> None:
    stream = ask(
        client(handler(body=sse(STREAM_EVENTS), content_type="text/event-stream")),
        stream=True,
        stream_options={"include_usage": True},
    )
    next(iter(stream))
    stream.close()
    span = telemetry.one_span()
    assert span.end_time is not None
    assert dict(span.attributes or {})["ai.cost.unpriced_reason"] == "no_usage"


@pytest.mark.parametrize(("status", "error"), [(429, openai.RateLimitError), (500, openai.InternalServerError)])
def test_http_errors_pass_through_unchanged(telemetry: Telemetry, status: int, error: type[Exception]) -> None:
    body = json.dumps({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
    with pytest.raises(error) as raised:
        ask(client(handler(status=status, body=body.encode())))
    assert raised.value.status_code == status  # type: ignore[attr-defined]
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["error.type"] == str(status)
    assert "gen_ai.usage.cost.amount" not in attrs
    assert telemetry.total("gen_ai.client.cost") == 0
    assert telemetry.total("ai.cost.requests", **{"error.type": str(status)}) == 1


def test_unknown_model_is_unpriced_never_zero(telemetry: Telemetry) -> None:
    body = json.dumps({**CHAT_RESPONSE, "model": "gpt-99-experimental"}).encode()
    c = client(handler(body=body))
    c.chat.completions.create(model="gpt-99-experimental", messages=[{"role": "user", "content": "hi"}])
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.cost.priced"] is False and attrs["ai.cost.unpriced_reason"] == "unknown_model"
    assert "gen_ai.usage.cost.amount" not in attrs
    assert telemetry.total("ai.cost.unpriced", **{"ai.cost.unpriced_reason": "unknown_model"}) == 1


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b'{"usage": "lots"}', b'{"usage": {"prompt_tokens": "1e9"}}', b"[1,2,3]", b"\xff\xfe"],
)
def test_malformed_bodies_never_raise_from_us(telemetry: Telemetry, body: bytes) -> None:
    raw = client(handler(body=body)).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.http_response.content == body  # the caller sees the same bytes
    span = telemetry.one_span()
    assert span.end_time is not None
    assert dict(span.attributes or {})["ai.cost.priced"] is False


def test_with_raw_response(telemetry: Telemetry) -> None:
    raw = client(handler()).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().usage.prompt_tokens == 1200
    assert dict(telemetry.one_span().attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(CHAT_COST)


def test_async_client(telemetry: Telemetry) -> None:
    async def main() -> None:
        async def handle(request: Any) -> Any:
            return httpx2.Response(200, json=CHAT_RESPONSE)

        c = openai.AsyncOpenAI(
            api_key="sk-test", max_retries=0, http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handle))
        )

        async def one(team: str) -> None:
            with tags(team=team, feature="batch-job"):
                await c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

        await asyncio.gather(*(one(t) for t in ("a", "b", "a")))

    asyncio.run(main())
    assert len(telemetry.finished()) == 3
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "a"}) == pytest.approx(2 * CHAT_COST)
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "b"}) == pytest.approx(CHAT_COST)


def test_legacy_httpx_client(telemetry: Telemetry) -> None:
    c = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(handler()))
    )
    ask(c)
    assert dict(telemetry.one_span().attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(CHAT_COST)


def test_azure_client(telemetry: Telemetry) -> None:
    c = openai.AzureOpenAI(
        api_key="azure-key",
        api_version="2024-10-21",
        azure_endpoint="https://contoso.openai.azure.com",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler())),
    )
    c.chat.completions.create(model="prod-chat", messages=[{"role": "user", "content": "hi"}])
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.provider.name"] == "azure.ai.openai"
    # the response names the model: gpt-4o-mini on Azure has OpenAI's list price
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(CHAT_COST)


def test_metrics_per_team_equal_span_costs(telemetry: Telemetry) -> None:
    c = client(handler())
    for team in ("a", "b", "a", "c", "a"):
        with tags(team=team, feature="f"):
            ask(c)
    span_total: dict[str, float] = {}
    for span in telemetry.finished():
        attrs = dict(span.attributes or {})
        span_total[str(attrs["ai.cost.team"])] = span_total.get(str(attrs["ai.cost.team"]), 0.0) + float(
            attrs["gen_ai.usage.cost.amount"]  # type: ignore[arg-type]
        )
    for team, total in span_total.items():
        assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": team}) == pytest.approx(total)
    assert span_total["a"] == pytest.approx(3 * CHAT_COST)


def test_uninstrument_restores_send(telemetry: Telemetry) -> None:
    from otel_ai_cost import AICostInstrumentor

    AICostInstrumentor().uninstrument()
    assert not hasattr(httpx2.Client.send, "__wrapped__")
    ask(client(handler()))
    assert telemetry.finished() == []
    AICostInstrumentor().instrument()  # so the fixture's uninstrument has something to undo


def test_uninstrument_under_a_later_plain_function_wrapper_and_instrument_again(telemetry: Telemetry) -> None:
    """Another instrumentation replaced `Client.send` by a plain function calling ours (no wrapt, no
    `__wrapped__`): ours cannot be unwrapped from under it, so it is switched off; instrumenting
    again records to the new providers, once."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_ai_cost import AICostInstrumentor, PriceEngine

    original = httpx2.Client.__dict__["send"].__wrapped__
    async_original = httpx2.AsyncClient.__dict__["send"].__wrapped__
    ours = httpx2.Client.send

    def their_send(self: httpx2.Client, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        return ours(self, request, **kwargs)  # type: ignore[no-any-return]

    httpx2.Client.send = their_send  # type: ignore[method-assign]
    try:
        AICostInstrumentor().uninstrument()
        ask(client(handler()))
        assert telemetry.finished() == []

        spans = InMemorySpanExporter()
        second = TracerProvider()
        second.add_span_processor(SimpleSpanProcessor(spans))
        AICostInstrumentor().instrument(tracer_provider=second, price_engine=PriceEngine())
        ask(client(handler()))
        assert telemetry.finished() == []
        costs = [(span.attributes or {})["gen_ai.usage.cost.amount"] for span in spans.get_finished_spans()]
        assert costs == [pytest.approx(CHAT_COST)]
    finally:
        AICostInstrumentor().uninstrument()
        assert httpx2.AsyncClient.__dict__["send"] is async_original  # restored where ours was outermost
        httpx2.Client.send = original  # type: ignore[method-assign]
        AICostInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)  # for the fixture to undo


def test_an_error_chunk_mid_stream_fails_the_call(telemetry: Telemetry) -> None:
    """The server failing after the 200: the SDK raises APIError on the error chunk; the span fails
    with its type, no cost, and it is not counted as a request without a price."""
    delta = {
        "id": "chatcmpl-err",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {"content": "Part"}, "finish_reason": None}],
    }
    error = {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}}
    body = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in (delta, delta, error))
    stream = client(handler(body=body, content_type="text/event-stream")).chat.completions.create(
        model="gpt-4o-mini", messages=[], stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    span = telemetry.one_span()
    attrs = dict(span.attributes or {})
    assert span.status.status_code == StatusCode.ERROR and attrs["error.type"] == "server_error"
    assert "gen_ai.usage.cost.amount" not in attrs
    assert telemetry.total("ai.cost.requests", **{"error.type": "server_error"}) == 1
    assert telemetry.total("ai.cost.unpriced") == 0


def test_tags_baggage_is_not_sent_to_the_provider(telemetry: Telemetry) -> None:
    from opentelemetry import baggage, context
    from opentelemetry.baggage.propagation import W3CBaggagePropagator

    from otel_ai_cost import AICostInstrumentor

    # What an HTTP instrumentation does at the transport: inject the current baggage.
    def inject_then_respond(request: Any) -> Any:
        carrier: dict[str, str] = {}
        W3CBaggagePropagator().inject(carrier)
        inject_then_respond.baggage = carrier.get("baggage", "")  # type: ignore[attr-defined]
        return httpx2.Response(200, json=CHAT_RESPONSE)

    token = context.attach(baggage.set_baggage("request.origin", "web"))
    try:
        with tags(team="search", feature="autocomplete"):
            ask(client(inject_then_respond))
    finally:
        context.detach(token)
    sent = inject_then_respond.baggage  # type: ignore[attr-defined]
    assert "request.origin=web" in sent  # other baggage is untouched
    assert "ai.cost" not in sent
    assert AICostInstrumentor is not None
    assert dict(telemetry.one_span().attributes or {})["ai.cost.team"] == "search"


def test_baggage_of_only_tags_is_not_sent_to_the_provider(telemetry: Telemetry) -> None:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator

    from otel_ai_cost.tags import current_tags

    def inject_then_respond(request: Any) -> Any:
        carrier: dict[str, str] = {}
        W3CBaggagePropagator().inject(carrier)
        inject_then_respond.baggage = carrier.get("baggage", "")  # type: ignore[attr-defined]
        return httpx2.Response(200, json=CHAT_RESPONSE)

    with tags(team="search", feature="autocomplete"):
        ask(client(inject_then_respond))
        assert current_tags() == {"team": "search", "feature": "autocomplete"}  # still in force after the call
    assert inject_then_respond.baggage == ""  # type: ignore[attr-defined]
    assert dict(telemetry.one_span().attributes or {})["ai.cost.feature"] == "autocomplete"


def test_a_context_that_cannot_be_copied_for_the_send_is_sent_as_it_is(telemetry: Telemetry) -> None:
    """Baggage put in the context by hand with a key that fails `str()`: the request still goes
    out, the caller gets its answer, the call is priced, and the error is ours, counted."""
    from opentelemetry import context

    from otel_ai_cost.telemetry.context_keys import BAGGAGE_KEY

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    token = context.attach(context.set_value(BAGGAGE_KEY, {Unprintable(): "x"}))
    try:
        answer = ask(client(handler()))
    finally:
        context.detach(token)
    assert answer.choices[0].message.content == CHAT_RESPONSE["choices"][0]["message"]["content"]
    assert dict(telemetry.one_span().attributes or {})["gen_ai.usage.input_tokens"] == 1200
    assert telemetry.total("ai.cost.internal_errors", **{"ai.cost.error.where": "context"}) == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compressed_stream(telemetry: Telemetry, encoding: str) -> None:
    import zlib

    import brotli

    raw = sse(STREAM_EVENTS)
    if encoding == "br":
        body = brotli.compress(raw)
    else:
        compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16) if encoding == "gzip" else zlib.compressobj()
        body = compressor.compress(raw) + compressor.flush()

    def handle(request: Any) -> Any:
        headers = {"content-type": "text/event-stream", "content-encoding": encoding}
        return httpx2.Response(200, stream=Chunked(body, size=5), headers=headers)

    stream = ask(client(handle), stream=True, stream_options={"include_usage": True})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("word0")  # the caller still gets decoded text
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)


def test_a_stream_not_in_its_content_encoding_fails_as_the_callers_read(telemetry: Telemetry) -> None:
    """A proxy that labels plain bytes gzip: the caller's read fails on httpx's DecodingError (which
    openai wraps in APIConnectionError), the span says so, and it is not counted as an error of ours
    (which would page whoever runs the alert)."""

    def handle(request: Any) -> Any:
        headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
        return httpx2.Response(200, stream=Chunked(sse(STREAM_EVENTS), size=64), headers=headers)

    def read() -> str:
        try:
            for _ in ask(client(handle), stream=True, stream_options={"include_usage": True}):
                pass
        except Exception as exc:
            return f"{type(exc).__name__} from {type(exc.__cause__).__name__}"
        return "no error"

    with suppress_instrumentation():
        uninstrumented = read()
    assert read() == uninstrumented == "APIConnectionError from DecodingError"
    span = telemetry.one_span()
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == "DecodingError"
    assert span.status.status_code is StatusCode.ERROR
    assert "Content-Encoding" in (span.status.description or "")
    assert telemetry.total("ai.cost.requests", **{"error.type": "DecodingError"}) == 1
    assert telemetry.points("ai.cost.internal_errors") == []


def test_a_gzip_bomb_is_decoded_in_bounded_memory(telemetry: Telemetry) -> None:
    """One SSE event of 192 MiB (an `x` repeated), about 190 KiB gzipped, then the usage: the caller
    reads the raw bytes (httpx decodes nothing), the tee decodes its own copy a MiB at a time, keeps
    at most the event cap of it, and still prices the usage behind it."""
    import tracemalloc
    import zlib

    compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    huge = 192 << 20
    body = compressor.compress(b"data: ")
    for _ in range(huge >> 20):
        body += compressor.compress(b"x" * (1 << 20))
    body += compressor.compress(b"\n\n" + sse(STREAM_EVENTS)) + compressor.flush()
    assert len(body) < 256 * 1024  # below the tee's KEPT_BYTES: parsed in one go at the end

    def handle(request: Any) -> Any:
        headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
        return httpx2.Response(200, stream=Chunked(body, size=16 * 1024), headers=headers)

    http = httpx2.Client(transport=httpx2.MockTransport(handle))
    request = {"model": "gpt-4o-mini", "messages": [], "stream": True}
    tracemalloc.start()
    try:
        with http.stream("POST", "https://api.openai.com/v1/chat/completions", json=request) as response:
            received = b"".join(response.iter_raw())
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == body
    # The caller's own copy (body), the tee's kept chunks (body again) and joined (once more), a
    # decoded piece (1 MiB) and the SSE reader's capped pending line (1 MiB) and its copies: well under
    # 16 MiB. Decoded whole, the 192 MiB would be held at once.
    assert peak < 16 << 20, peak
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)
    assert telemetry.points("ai.cost.internal_errors") == []


def test_truncated_stream_never_raises_from_us(telemetry: Telemetry) -> None:
    raw = sse(STREAM_EVENTS)
    cut = raw[: len(raw) - 40]  # the usage event is cut mid-JSON

    def handle(request: Any) -> Any:
        return httpx2.Response(200, stream=Chunked(cut), headers={"content-type": "text/event-stream"})

    stream = ask(client(handle), stream=True, stream_options={"include_usage": True})
    chunks = [c for c in stream]
    assert chunks  # what arrived reaches the caller
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.cost.priced"] is False and attrs["ai.cost.unpriced_reason"] == "no_usage"


def test_stream_without_usage_can_be_estimated(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_AI_COST_ESTIMATE_STREAM_USAGE", "true")
    telemetry.reinstrument()
    seen: list[Any] = []

    def handle(request: Any) -> Any:
        seen.append(len(request.content))
        body = sse(STREAM_EVENTS[:-1])  # no usage event
        return httpx2.Response(200, stream=Chunked(body), headers={"content-type": "text/event-stream"})

    for _ in ask(client(handle), stream=True):
        pass
    attrs = dict(telemetry.one_span().attributes or {})
    # output: 20 content deltas (one per word; the role-only first chunk carries no text) ~ 20 tokens;
    # input: request bytes / 4. Cost = input x 0.15 + 20 x 0.60 per 1M.
    expected_input = seen[0] // 4
    assert attrs["ai.cost.estimated"] is True
    assert attrs["gen_ai.usage.output_tokens"] == 20
    assert attrs["gen_ai.usage.input_tokens"] == expected_input
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx((expected_input * 0.15 + 20 * 0.60) / 1e6)


def test_semconv_histograms_can_be_switched_off(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_AI_COST_SEMCONV_METRICS", "false")
    telemetry.reinstrument()
    ask(client(handler()))
    assert telemetry.points("gen_ai.client.token.usage") == []
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(CHAT_COST)


def test_instrument_twice_is_harmless(telemetry: Telemetry) -> None:
    from otel_ai_cost import AICostInstrumentor

    AICostInstrumentor().instrument()
    ask(client(handler()))
    assert len(telemetry.finished()) == 1


def test_a_second_wrap_of_an_instrumented_library_is_skipped(telemetry: Telemetry) -> None:
    """The post-import hook and an explicit wrap can both reach a library: it is wrapped once."""
    from otel_ai_cost import AICostInstrumentor
    from otel_ai_cost.instrumentor import _wrap

    send = httpx2.Client.__dict__["send"]
    _wrap(httpx2, AICostInstrumentor._active, "httpx_send")
    assert httpx2.Client.__dict__["send"] is send  # not a wrapper of our wrapper
    ask(client(handler()))
    assert len(telemetry.finished()) == 1
