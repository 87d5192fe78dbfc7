"""What every transport shares: the span context of a send, and the sink a response's bytes go to.

A transport (httpx2/httpx `send`, requests `Session.send`) opens a `Call` for a request a parser
claims, makes its span current with `enter_call`, and hands the response bytes the caller reads
to a `Sink`, which decodes them, parses them and finishes the call exactly once. Knows nothing of
any provider's JSON nor of any HTTP library.

One request is seen by exactly one transport: while a call is being sent, `sending()` is true in
that context, and every transport leaves alone what is sent inside it (a requests adapter built on
httpx, an httpx transport built on requests, requests' own redirect hops).
"""

from __future__ import annotations

import atexit
import gc
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import Token
from typing import Any, NamedTuple, TypeVar

from opentelemetry import context
from opentelemetry.context import Context

from otel_ai_cost.budgets import BudgetExceeded, check_before_send
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts, StreamParser, WireProtocol
from otel_ai_cost.providers.routing import Router
from otel_ai_cost.telemetry.context_keys import BAGGAGE_KEY, SPAN_KEY, instrumentation_enabled
from otel_ai_cost.telemetry.names import TAG_PREFIX
from otel_ai_cost.telemetry.recorder import Call, Recorder
from otel_ai_cost.transports.decoding import Decoder, Undecodable, make_decoder

MAX_BUFFERED_BODY = 32 * 1024 * 1024
"""A streamed non-SSE body larger than this is not parsed (and the request not priced)."""

KEPT_BYTES = 256 * 1024
"""A streamed response's chunks are parsed together once they add up to this (and at the end)."""

EVENT_STREAM = "application/vnd.amazon.eventstream"
"""AWS's binary event stream (Bedrock over HTTP): read incrementally by the protocol's stream parser, like SSE."""

_SENDING = context.create_key("otel-ai-cost-sending")

_collecting = False
"""The garbage collector is running (set by `_track_collections`)."""
_ended_later: deque[Callable[[], None]] = deque()
"""The ends of calls whose streams the garbage collector freed unread: run by `end_collected`."""

RequestT = TypeVar("RequestT")
HooksT = TypeVar("HooksT")


class Outgoing(NamedTuple):
    """What routing needs of a request, as any HTTP library has it."""

    method: str
    scheme: str
    host: str
    port: int | None
    """None for the scheme's default port."""
    path: str
    headers: Any
    """Anything with `.get(name)`, case-insensitive."""


def begin_call(
    recorder: Recorder,
    router: Router,
    request: RequestT,
    describe: Callable[[RequestT], Outgoing],
    read_body: Callable[[RequestT], bytes],
) -> tuple[Call, WireProtocol] | None:
    """Open a call for a request a parser claims as billable, else None.

    The body is read only for a request routed to an AI API. Never raises, except
    `BudgetExceeded` on purpose: a budget says the request must not be sent.
    """
    end_collected()
    ctx = context.get_current()
    if steps_aside(ctx):
        return None
    try:
        outgoing = describe(request)
        protocol = router.route(outgoing.host, outgoing.path, port=outgoing.port)
        if protocol is None:
            return None
        body = read_body(request)
        facts = protocol.parse_request(
            outgoing.method, outgoing.host, outgoing.path, outgoing.headers.get("content-type"), body
        )
        if facts is None:
            return None
        facts.request_bytes = len(body)
        if not facts.retrieval:  # fetching a response already sent and paid for is never stopped
            check_before_send(recorder, ctx)
        port = outgoing.port or (443 if outgoing.scheme == "https" else 80)
        return recorder.start(facts, outgoing.host, port, ctx), protocol
    except BudgetExceeded:
        raise  # the one exception of ours the caller gets, on purpose: the request is not sent
    except Exception as exc:
        recorder.internal_error("request", exc)
        return None


def end_when_dropped(stream: object, done: Callable[[], None]) -> None:
    """Call `done` (which ends the call once) when `stream`, a response's body, is freed unread.

    Dropped, it is ended at once. Freed by the garbage collector (it was in a reference cycle), it is
    ended at the start of the next call or at exit: the collector runs inside whatever code
    allocated, which may be the OpenTelemetry SDK holding a lock that recording the call needs.
    """
    weakref.finalize(stream, _freed, done)


def _freed(done: Callable[[], None]) -> None:
    if _collecting:
        _ended_later.append(done)
    else:
        done()


def end_collected() -> None:
    """End the calls whose streams the garbage collector freed (from any thread; never raises)."""
    while _ended_later:
        try:
            done = _ended_later.popleft()
        except IndexError:
            return
        try:
            done()
        except Exception:  # the sinks count their own errors: a last guard for the caller's request
            continue


def _track_collections(phase: str, info: dict[str, int]) -> None:
    global _collecting
    _collecting = phase == "start"


gc.callbacks.append(_track_collections)
atexit.register(end_collected)


def sending(ctx: Context | None = None) -> bool:
    """A priced call is being sent in this context: whatever is sent inside it belongs to it."""
    return context.get_value(_SENDING, ctx) is not None


def steps_aside(ctx: Context) -> bool:
    """A transport leaves a request alone here: instrumentation is suppressed, or the request is
    sent inside a call another transport is pricing."""
    return sending(ctx) or not instrumentation_enabled(ctx)


def enter_call(call: Call) -> Token[Context]:
    """Make the call's span current for the send, without our tags in the baggage.

    Attribution tags travel as W3C baggage between the company's own services; an HTTP
    instrumentation that injects baggage must not hand them to the AI provider.
    """
    current = context.get_current()
    try:
        values = dict(current)  # one new context, not one per change (this is per request)
        values[SPAN_KEY] = call.span
        values[_SENDING] = True
        entries = values.get(BAGGAGE_KEY)
        if isinstance(entries, dict) and entries:
            values[BAGGAGE_KEY] = {key: value for key, value in entries.items() if not str(key).startswith(TAG_PREFIX)}
        sent_in = Context(values)
    except Exception as exc:  # a context someone filled with something strange: send it as it is
        call.recorder.internal_error("context", exc)
        sent_in = current
    return context.attach(sent_in)


def exception_error(exc: BaseException) -> tuple[str, str]:
    """`error.type` and the span status description of a call that raised `exc`: its type, and no
    description. Exception messages quote what they like: h11 quotes a header value it refuses (an
    API key read with its trailing newline), httpx and requests the URL (Gemini's `?key=`), mocking
    libraries and proxies the request body."""
    return type(exc).__qualname__, ""


def send_in_call(
    call: Call,
    send: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error_of: Callable[[BaseException], tuple[str, str]] = exception_error,
) -> Any:
    """`send(*args, **kwargs)` with the call's span current; an exception fails the call (as
    `error_of` describes it) and goes on as is."""
    token = enter_call(call)
    try:
        return send(*args, **kwargs)
    except BaseException as exc:
        call.fail(*error_of(exc))
        raise
    finally:
        context.detach(token)


async def send_in_call_async(
    call: Call,
    send: Callable[..., Awaitable[Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error_of: Callable[[BaseException], tuple[str, str]] = exception_error,
) -> Any:
    """`send_in_call` for an async `send`."""
    token = enter_call(call)
    try:
        return await send(*args, **kwargs)
    except BaseException as exc:
        call.fail(*error_of(exc))
        raise
    finally:
        context.detach(token)


def wrapper_owners(function: object) -> Iterator[object]:
    """What each wrapper around `function` is bound to, outermost first (None for a level that is not
    a wrapt wrapper, e.g. functools.wraps'): how a transport finds its own wrapper among others'."""
    for _ in range(16):  # other instrumentations may wrap ours, or we theirs
        if function is None:
            return
        yield getattr(getattr(function, "_self_wrapper", None), "__self__", None)
        function = getattr(function, "__wrapped__", None)


def live_hooks(method: object, hooks_type: type[HooksT]) -> HooksT | None:
    """The live (`enabled`) hooks of `hooks_type` among the wrappers around `method`: a transport's own."""
    for owner in wrapper_owners(method):
        if isinstance(owner, hooks_type) and getattr(owner, "enabled", False):
            return owner
    return None


def take_out(hooks: Any, owner: type, *methods: str) -> None:
    """Switch our `hooks` off and restore each of `owner`'s `methods` they wrap outermost; a method
    another instrumentation wrapped since keeps ours in its chain, switched off."""
    hooks.enabled = False
    for method in methods:
        function = owner.__dict__.get(method)
        if function is not None and next(wrapper_owners(function), None) is hooks:
            setattr(owner, method, function.__wrapped__)


def no_usage(facts: RequestFacts) -> ParsedResponse:
    """What the request alone says, for a response we could not read."""
    return ParsedResponse(facts.usage(), usage_found=False)


def parse_whole(recorder: Recorder, protocol: WireProtocol, facts: RequestFacts, body: bytes) -> ParsedResponse:
    try:
        return protocol.parse_response(facts, body)
    except Exception as exc:
        recorder.internal_error("parse", exc)
        return no_usage(facts)


class CappedBody:
    """A body kept piece by piece until its end, unless it grows past `MAX_BUFFERED_BODY`."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] | None = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        if self.parts is None:
            return
        self.size += len(chunk)
        if self.size > MAX_BUFFERED_BODY:
            self.parts = None
        else:
            self.parts.append(chunk)

    def value(self) -> bytes | None:
        """The whole body, or None when it was too large to keep."""
        return None if self.parts is None else b"".join(self.parts)


class BufferedBody:
    """A streamed JSON body (not SSE): kept until the end, then parsed whole."""

    def __init__(self, recorder: Recorder, protocol: WireProtocol, facts: RequestFacts) -> None:
        self.recorder = recorder
        self.protocol = protocol
        self.facts = facts
        self.body = CappedBody()

    def feed(self, chunk: bytes) -> None:
        self.body.add(chunk)

    def finish(self) -> ParsedResponse:
        body = self.body.value()
        if body is None:
            return no_usage(self.facts)
        return parse_whole(self.recorder, self.protocol, self.facts, body)


class Sink:
    """Where a tee sends the bytes: decode, parse, and finish the call once."""

    def __init__(self, recorder: Recorder, call: Call, protocol: WireProtocol, headers: Any) -> None:
        self.recorder = recorder
        self.call = call
        self.decoder: Decoder | None = make_decoder(headers.get("content-encoding"))
        content_type = (headers.get("content-type") or "").lower()
        self.parser: StreamParser = (
            protocol.stream_parser(call.facts)
            if "text/event-stream" in content_type or EVENT_STREAM in content_type
            else BufferedBody(recorder, protocol, call.facts)
        )
        self.broken = self.decoder is None
        self.ended = False
        """Done or failed: later ends (the close after the last chunk, the finalizer) cost nothing."""
        self.kept: list[bytes] = []
        """Chunks not parsed yet. Nothing is recorded before the end, so they are parsed together
        then (and whenever `KEPT_BYTES` are kept): one pass over many events costs much less than
        one per chunk, and the result is the same for any chunking."""
        self.kept_bytes = 0
        self.undecodable: str | None = None
        """Why the bytes are not in their Content-Encoding: the caller's own read of them fails too."""

    def take_decoded(self) -> None:
        """The bytes handed on are already content-decoded (the HTTP library undid the encoding)."""
        self.decoder = make_decoder(None)
        self.broken = False

    def feed(self, chunk: bytes) -> None:
        self.kept.append(chunk)
        self.kept_bytes += len(chunk)
        if self.kept_bytes > KEPT_BYTES:
            self.parse_kept()

    def parse_kept(self) -> None:
        kept = self.kept
        if not kept:
            return
        chunk = kept[0] if len(kept) == 1 else b"".join(kept)
        kept.clear()
        self.kept_bytes = 0
        if self.broken:
            return
        try:
            assert self.decoder is not None
            for piece in self.decoder(chunk):
                self.parser.feed(piece)
        except Undecodable as exc:
            self.broken = True
            self.undecodable = str(exc)
        except Exception as exc:
            self.broken = True
            self.recorder.internal_error("stream", exc)

    def done(self) -> None:
        if self.ended:
            return  # the call is finished once: the body is not parsed again for nothing
        self.ended = True
        parsed = self._parsed()
        if self.undecodable is not None:
            self.call.fail("DecodingError", f"the body is not in its Content-Encoding: {self.undecodable}"[:200])
            return
        self.call.finish(no_usage(self.call.facts) if parsed is None else parsed)

    def failed(self, exc: BaseException) -> None:
        """Reading the body raised (a timeout, the connection lost): the call fails, with the usage
        the bytes read had reported."""
        if self.ended:
            return
        self.ended = True
        self.call.fail_reading(self._parsed(), *exception_error(exc))

    def _parsed(self) -> ParsedResponse | None:
        """What the bytes read said, or None when they could not be read."""
        self.parse_kept()
        if self.broken:
            return None
        try:
            return self.parser.finish()
        except Exception as exc:
            self.recorder.internal_error("stream", exc)
            return None


def tee(chunks: Iterable[bytes], sink: Sink) -> Iterator[bytes]:
    """`chunks` unchanged, each also handed to `sink`, which is done at the end or when the caller
    stops reading (what was read is what was paid for), and failed when reading raises."""
    kept, size = sink.kept, 0
    try:
        for chunk in chunks:
            kept.append(chunk)  # sink.feed(chunk), without a call per chunk
            size += len(chunk)
            if size > KEPT_BYTES:
                sink.parse_kept()
                size = 0
            yield chunk
    except GeneratorExit:
        sink.done()
        raise
    except BaseException as exc:
        sink.failed(exc)
        raise
    sink.done()
