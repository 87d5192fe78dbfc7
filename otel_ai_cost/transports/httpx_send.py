"""The wire: `Client.send` and `AsyncClient.send` of httpx2 and httpx, wrapped with wrapt.

For a request a parser claims, a `Call` is opened before sending and finished when the caller
has the whole response: at once for a read response, or when a streamed one ends, is closed
early or fails. The caller gets the very response object, bytes and exceptions it would get
without us; everything of ours runs under a guard that counts and swallows its own errors.
This module knows nothing of any provider's JSON.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextvars import Token
from types import ModuleType
from typing import Any

from opentelemetry import baggage, context, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_ai_cost.budgets import BudgetExceeded, check_before_send
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts, StreamParser, WireProtocol
from otel_ai_cost.providers.routing import Router
from otel_ai_cost.telemetry.names import TAG_PREFIX
from otel_ai_cost.telemetry.recorder import Call, Recorder
from otel_ai_cost.transports.decoding import Decoder, make_decoder

MAX_BUFFERED_BODY = 32 * 1024 * 1024
"""A streamed non-SSE body larger than this is not parsed (and the request not priced)."""


class SendHooks:
    """The wrapt wrappers for one httpx-like module (httpx or httpx2)."""

    def __init__(self, module: ModuleType, recorder: Recorder, endpoints: Mapping[str, str] | None) -> None:
        self.recorder = recorder
        self.router = Router(endpoints)
        self.sync_tee = _sync_tee_class(module.SyncByteStream)
        self.async_tee = _async_tee_class(module.AsyncByteStream)

    def send(self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        begun = self._begin(args, kwargs)
        if begun is None:
            return wrapped(*args, **kwargs)
        call, protocol = begun
        token = _enter(call)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(type(exc).__qualname__, str(exc)[:200])
            raise
        finally:
            context.detach(token)
        self._watch(call, protocol, response, bool(kwargs.get("stream", False)), is_async=False)
        return response

    async def send_async(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        begun = self._begin(args, kwargs)
        if begun is None:
            return await wrapped(*args, **kwargs)
        call, protocol = begun
        token = _enter(call)
        try:
            response = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(type(exc).__qualname__, str(exc)[:200])
            raise
        finally:
            context.detach(token)
        self._watch(call, protocol, response, bool(kwargs.get("stream", False)), is_async=True)
        return response

    def _begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Call, WireProtocol] | None:
        try:
            request = args[0] if args else kwargs.get("request")
            if request is None or not is_instrumentation_enabled():
                return None
            url = request.url
            port = url.port  # None for the scheme's default port
            protocol = self.router.route(url.host, url.path, port=port)
            if protocol is None:
                return None
            body = _request_body(request)
            facts = protocol.parse_request(
                request.method, url.host, url.path, request.headers.get("content-type"), body
            )
            if facts is None:
                return None
            facts.request_bytes = len(body)
            check_before_send(self.recorder)
            return self.recorder.start(facts, url.host, port or (443 if url.scheme == "https" else 80)), protocol
        except BudgetExceeded:
            raise  # the one exception of ours the caller gets, on purpose: the request is not sent
        except Exception as exc:
            self.recorder.internal_error("request", exc)
            return None

    def _watch(self, call: Call, protocol: WireProtocol, response: Any, streamed: bool, *, is_async: bool) -> None:
        try:
            status = response.status_code
            if status >= 400:
                call.fail(str(status))
                return
            if not streamed:
                call.finish(_parse_whole(self.recorder, protocol, call.facts, response.content))
                return
            sink = _Sink(self.recorder, call, protocol, response.headers)
            in_memory = getattr(response, "_content", None)
            if isinstance(in_memory, bytes):
                # Built with its content (a mock or a cached response): no bytes will flow to tee.
                sink.decoder = make_decoder(None)
                sink.broken = False
                sink.feed(in_memory)
                sink.done()
                return
            tee = self.async_tee if is_async else self.sync_tee
            response.stream = tee(response.stream, sink)
        except Exception as exc:
            self.recorder.internal_error("response", exc)
            call.finish(_no_usage(call.facts))


def _enter(call: Call) -> Token[Context]:
    """Make the call's span current for the send, without our tags in the baggage.

    Attribution tags travel as W3C baggage between the company's own services; an HTTP
    instrumentation that injects baggage must not hand them to the AI provider.
    """
    ctx = trace.set_span_in_context(call.span)
    for key in baggage.get_all(ctx):
        if key.startswith(TAG_PREFIX):
            ctx = baggage.remove_baggage(key, ctx)
    return context.attach(ctx)


def _request_body(request: Any) -> bytes:
    try:
        content = request.content  # raises when the body is a stream not yet read
    except Exception:
        return b""
    return content if isinstance(content, bytes) else b""


def _no_usage(facts: RequestFacts) -> ParsedResponse:
    """What the request alone says, for a response we could not read."""
    return ParsedResponse(facts.usage(), usage_found=False)


def _parse_whole(recorder: Recorder, protocol: WireProtocol, facts: RequestFacts, body: bytes) -> ParsedResponse:
    try:
        return protocol.parse_response(facts, body)
    except Exception as exc:
        recorder.internal_error("parse", exc)
        return _no_usage(facts)


class _BufferedBody:
    """A streamed JSON body (not SSE): kept until the end, then parsed whole."""

    def __init__(self, recorder: Recorder, protocol: WireProtocol, facts: RequestFacts) -> None:
        self.recorder = recorder
        self.protocol = protocol
        self.facts = facts
        self.parts: list[bytes] | None = []
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        if self.parts is None:
            return
        self.size += len(chunk)
        if self.size > MAX_BUFFERED_BODY:
            self.parts = None
        else:
            self.parts.append(chunk)

    def finish(self) -> ParsedResponse:
        if self.parts is None:
            return _no_usage(self.facts)
        return _parse_whole(self.recorder, self.protocol, self.facts, b"".join(self.parts))


class _Sink:
    """Where the tee sends the bytes: decode, parse, and finish the call once."""

    def __init__(self, recorder: Recorder, call: Call, protocol: WireProtocol, headers: Any) -> None:
        self.recorder = recorder
        self.call = call
        self.decoder: Decoder | None = make_decoder(headers.get("content-encoding"))
        content_type = (headers.get("content-type") or "").lower()
        self.parser: StreamParser = (
            protocol.stream_parser(call.facts)
            if "text/event-stream" in content_type
            else _BufferedBody(recorder, protocol, call.facts)
        )
        self.broken = self.decoder is None

    def feed(self, chunk: bytes) -> None:
        if self.broken:
            return
        try:
            assert self.decoder is not None
            self.parser.feed(self.decoder(chunk))
        except Exception as exc:
            self.broken = True
            self.recorder.internal_error("stream", exc)

    def done(self) -> None:
        parsed = _no_usage(self.call.facts)
        if not self.broken:
            try:
                parsed = self.parser.finish()
            except Exception as exc:
                self.recorder.internal_error("stream", exc)
        self.call.finish(parsed)

    def failed(self, exc: BaseException) -> None:
        self.call.fail(type(exc).__qualname__, str(exc)[:200])


def _sync_tee_class(base: type) -> type:
    class TeeStream(base):  # type: ignore[misc]
        """The response's byte stream, with every chunk also handed to the sink."""

        def __init__(self, inner: Any, sink: _Sink) -> None:
            self.inner = inner
            self.sink = sink
            weakref.finalize(self, sink.done)  # a response dropped unread still ends its span

        def __iter__(self) -> Iterator[bytes]:
            sink = self.sink
            try:
                for chunk in self.inner:
                    sink.feed(chunk)
                    yield chunk
            except GeneratorExit:
                sink.done()  # the caller stopped reading: what was read is what was paid for
                raise
            except BaseException as exc:
                sink.failed(exc)
                raise
            sink.done()

        def close(self) -> None:
            try:
                self.inner.close()
            finally:
                self.sink.done()

    return TeeStream


def _async_tee_class(base: type) -> type:
    class AsyncTeeStream(base):  # type: ignore[misc]
        """The response's async byte stream, with every chunk also handed to the sink."""

        def __init__(self, inner: Any, sink: _Sink) -> None:
            self.inner = inner
            self.sink = sink
            weakref.finalize(self, sink.done)

        async def __aiter__(self) -> AsyncIterator[bytes]:
            sink = self.sink
            try:
                async for chunk in self.inner:
                    sink.feed(chunk)
                    yield chunk
            except GeneratorExit:
                sink.done()
                raise
            except BaseException as exc:
                sink.failed(exc)
                raise
            sink.done()

        async def aclose(self) -> None:
            try:
                await self.inner.aclose()
            finally:
                self.sink.done()

    return AsyncTeeStream
