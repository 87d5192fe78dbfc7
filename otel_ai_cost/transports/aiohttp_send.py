"""The wire for aiohttp users: `ClientSession._request`, and each response body as aiohttp receives it.

google-genai's async client (`client.aio`) sends with aiohttp whenever aiohttp is installed, and many
applications call aiohttp directly. `session.request/get/post(...)`, `async with session.post(...)`
and every library built on aiohttp end in `ClientSession._request(method, url, **options)`, wrapped
with wrapt: for a request a parser claims, a `Call` is opened before sending and finished exactly
once, when the body ends, when reading it fails, when the caller releases or closes the response,
or when the response is freed.

The body is seen where aiohttp feeds it, not where the caller reads it. Every byte of a response
body goes through its `StreamReader.feed_data`, content-encoding already undone, whichever way the
caller reads it (`read()`, `text()`, `json()`, `content.read/readany/readline/readchunk/readexactly`,
`iter_chunked`, `iter_any`, `iter_chunks`, `async for line in response.content`); aiohttp's own
`on_eof` callback marks the end, and `StreamReader.set_exception` a body that failed (read timeout,
connection lost, a cut body). So the caller keeps the very response and reader objects, with their
own class and nothing set on them, the same bytes and the same exceptions, and no read path can be
missed. A body that arrives whole is priced even if the caller never reads it: it was billed.

`StreamReader` has `__slots__` without `__weakref__`: the readers of priced responses are kept in a
map by id, each entry checked against its response (held weakly) and removed when its call ends.
A reader that is not priced costs its `feed_data` one test of an empty map or one dict lookup.
This module knows nothing of any provider's JSON.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Mapping
from types import FrameType, ModuleType
from typing import Any

import wrapt
from aiohttp import ClientError, ClientResponseError
from multidict import CIMultiDict
from yarl import URL

from otel_ai_cost.providers.base import WireProtocol
from otel_ai_cost.providers.routing import Router
from otel_ai_cost.telemetry.recorder import Call, Recorder
from otel_ai_cost.transports.common import (
    Outgoing,
    Sink,
    begin_call,
    end_when_dropped,
    exception_error,
    live_hooks,
    no_usage,
    send_in_call_async,
    take_out,
)

__all__ = ["AiohttpHooks", "install", "uninstall"]

_Request = tuple[Any, tuple[Any, ...], dict[str, Any]]
"""What `_request` was called with: the session, its positional and its keyword arguments."""


class _Watch:
    """A priced response whose body is still arriving: its reader feeds the sink until it ends."""

    __slots__ = ("sink", "response", "key")

    def __init__(self, sink: Sink, response: Any, key: int) -> None:
        self.sink = sink
        self.response = weakref.ref(response)
        self.key = key

    def owns(self, reader: object) -> bool:
        """`reader` is still this response's body (not another object given a freed reader's id)."""
        response = self.response()
        return response is not None and getattr(response, "content", None) is reader

    def fed(self, data: Any) -> None:
        sink = self.sink
        try:
            if data:
                sink.feed(data if type(data) is bytes else bytes(data))
        except Exception as exc:
            sink.broken = True
            sink.recorder.internal_error("aiohttp body", exc)

    def end(self) -> None:
        """The body ended, or the caller released, closed or dropped the response: what arrived is
        what was paid for."""
        self._forget()
        try:
            self.sink.done()
        except Exception as exc:  # the sink guards itself: a last guard for the caller's read
            self.sink.recorder.internal_error("aiohttp end", exc)

    def failed(self, exc: BaseException) -> None:
        self._forget()
        try:
            self.sink.failed(exc)
        except Exception as error:
            self.sink.recorder.internal_error("aiohttp end", error)

    def _forget(self) -> None:
        if _watched.get(self.key) is self:
            _watched.pop(self.key, None)


_watched: dict[int, _Watch] = {}
"""The watches of priced responses whose bodies are still arriving, by `id` of their reader."""


def _watch_of(reader: object) -> _Watch | None:
    watch = _watched.get(id(reader))
    if watch is None or not watch.owns(reader):
        return None
    return watch


class AiohttpHooks:
    """The wrapt wrappers: `ClientSession._request`, `StreamReader.feed_data` and `set_exception`,
    `ClientResponse.release` and `close`."""

    def __init__(self, recorder: Recorder, endpoints: Mapping[str, str] | None) -> None:
        self.recorder = recorder
        self.router = Router(endpoints)
        self.enabled = True

    async def request(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        begun = self._begin(instance, args, kwargs) if self.enabled else None
        if begun is None:
            return await wrapped(*args, **kwargs)
        call, protocol = begun
        response = await send_in_call_async(call, wrapped, args, kwargs, _error)
        self._watch(call, protocol, instance, kwargs, response)
        return response

    def feed_data(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        if _watched and self.enabled:
            try:
                watch = _watch_of(instance)
                if watch is not None:
                    watch.fed(args[0] if args else kwargs.get("data"))
            except Exception as exc:
                self.recorder.internal_error("aiohttp body", exc)
        return result

    def set_exception(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            return wrapped(*args, **kwargs)
        finally:
            if _watched and self.enabled:
                try:
                    watch = _watch_of(instance)
                    exc = args[0] if args else kwargs.get("exc")
                    if watch is not None and isinstance(exc, BaseException):
                        watch.failed(exc)
                except Exception as error:
                    self.recorder.internal_error("aiohttp body", error)

    def release(self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """`ClientResponse.release` and `close`: the caller is done with the body (ended before aiohttp
        marks the reader closed, which would otherwise read as a failure). aiohttp closes the response
        itself when a read of the whole body fails (a `ClientTimeout(total=...)` running out): that
        read's error fails the call."""
        if _watched and self.enabled:
            try:
                reader: Any = getattr(instance, "content", None)
                watch = _watch_of(reader)
                if watch is not None and watch.response() is instance:
                    failure = _failed_read(reader)
                    if failure is not None:
                        watch.failed(failure)
                    else:
                        watch.end()
            except Exception as exc:
                self.recorder.internal_error("aiohttp release", exc)
        return wrapped(*args, **kwargs)

    def _begin(self, session: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Call, WireProtocol] | None:
        return begin_call(self.recorder, self.router, (session, args, kwargs), _outgoing, _request_body)

    def _watch(self, call: Call, protocol: WireProtocol, session: Any, kwargs: dict[str, Any], response: Any) -> None:
        try:
            status = response.status
            if status >= 400:
                call.fail(str(status))
                return
            reader = response.content
            sink = Sink(self.recorder, call, protocol, response.headers)
            if _decompressed(session, kwargs):
                sink.take_decoded()  # aiohttp undid the Content-Encoding before feeding the reader
            received = _received(reader)
            if received is None:
                sink.broken = True  # read before us: no whole body to parse
            elif received:
                sink.feed(received)
            error = reader.exception()
            if error is not None:
                sink.failed(error)
                return
            if reader.is_eof():  # the whole body came with the headers (or there is none)
                sink.done()
                return
            watch = _Watch(sink, response, id(reader))
            _watched[watch.key] = watch
            reader.on_eof(watch.end)
            end_when_dropped(response, watch.end)
        except Exception as exc:
            self.recorder.internal_error("aiohttp response", exc)
            call.finish(no_usage(call.facts))


def _failed_read(reader: Any) -> BaseException | None:
    """The error of aiohttp's own whole-body read (`ClientResponse.read`, under `text()` and `json()`)
    when that read is what closes the response, else None: an error the caller is handling in its
    own code (inside `async with response:`) is not the request's."""
    failure = sys.exc_info()[1]
    if not isinstance(failure, _READ_FAILURES) or reader.is_eof():
        return None
    frame: FrameType | None = sys._getframe(2)  # this <- the release/close hook <- whoever closes
    for _ in range(3):  # wrapt adds no frame, its pure-Python fallback one
        if frame is None:
            return None
        if frame.f_code.co_name == "read" and frame.f_globals.get("__name__") == "aiohttp.client_reqrep":
            return failure
        frame = frame.f_back
    return None


def _error(exc: BaseException) -> tuple[str, str]:
    """A response refused by `raise_for_status` fails with its status, as an unraised one does."""
    error_type, description = exception_error(exc)
    if isinstance(exc, ClientResponseError) and isinstance(exc.status, int) and exc.status >= 400:
        return str(exc.status), description
    return error_type, description


def _outgoing(request: _Request) -> Outgoing:
    session, args, kwargs = request
    method = args[0] if args else kwargs.get("method", "GET")
    target = args[1] if len(args) > 1 else kwargs.get("str_or_url", kwargs.get("url"))
    build = getattr(session, "_build_url", None)  # applies the session's base_url
    url = build(target) if callable(build) else URL(target if isinstance(target, URL) else str(target))
    port = url.explicit_port
    if port == (443 if url.scheme == "https" else 80):
        port = None  # as httpx reports it: None for the scheme's default
    headers: CIMultiDict[str] = CIMultiDict(getattr(session, "headers", None) or ())
    given = kwargs.get("headers")
    if given:
        for name, value in given.items() if hasattr(given, "items") else given:
            headers[name] = value
    if kwargs.get("json") is not None and "content-type" not in headers:
        headers["content-type"] = "application/json"
    return Outgoing(str(method).upper(), url.scheme, url.host or "", port, url.path, headers)


def _request_body(request: _Request) -> bytes:
    """The body when it is in memory (`json=`, or `data=` bytes or text); a form, file or generator
    body is not read."""
    session, _, kwargs = request
    payload = kwargs.get("json")
    if payload is not None:
        text = session.json_serialize(payload)
        return text.encode("utf-8") if isinstance(text, str) else bytes(text)
    data = kwargs.get("data")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8", "replace")
    return b""


def _decompressed(session: Any, kwargs: dict[str, Any]) -> bool:
    decompress = kwargs.get("auto_decompress")
    if decompress is None:
        decompress = getattr(session, "auto_decompress", True)
    return bool(decompress)


def _received(reader: Any) -> bytes | None:
    """The body bytes aiohttp fed the reader before we watched it (those that came with the headers),
    or None when some were read already (a client middleware's)."""
    total = getattr(reader, "total_bytes", 0)
    if not total:
        return b""
    buffer = getattr(reader, "_buffer", None)
    offset = getattr(reader, "_buffer_offset", 0)
    if buffer is None or not isinstance(offset, int):
        return None
    data = b"".join(buffer)[offset:]
    return data if len(data) == total else None


_READ_FAILURES = (TimeoutError, ClientError)
"""Errors of a read that close the response on the way out. A cancelled read (the caller stopped
reading) ends the call with what was read, as in the httpx transport."""

_PATCHES = (
    ("ClientSession", "_request", "request"),
    ("StreamReader", "feed_data", "feed_data"),
    ("StreamReader", "set_exception", "set_exception"),
    ("ClientResponse", "release", "release"),
    ("ClientResponse", "close", "release"),
)
"""(class in the aiohttp package, its method, the hook wrapping it)."""


def install(module: ModuleType, recorder: Recorder, endpoints: Mapping[str, str] | None) -> AiohttpHooks:
    """Wrap aiohttp's methods (module is `aiohttp`), once; the hooks in force."""
    hooks = live_hooks(module.ClientSession.__dict__.get("_request"), AiohttpHooks)
    if hooks is None:
        hooks = AiohttpHooks(recorder, endpoints)
        for class_name, method, hook in _PATCHES:
            wrapt.wrap_function_wrapper(getattr(module, class_name), method, getattr(hooks, hook))
    return hooks


def uninstall(module: ModuleType) -> None:
    """Restore the original methods; one another instrumentation wrapped since stays, ours switched off."""
    hooks = live_hooks(module.ClientSession.__dict__.get("_request"), AiohttpHooks)
    if hooks is None:
        return
    for class_name, method, _ in _PATCHES:
        take_out(hooks, getattr(module, class_name), method)
