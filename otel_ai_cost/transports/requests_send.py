"""The wire for `requests` users: `Session.send`, wrapped with wrapt.

`requests.get/post(...)`, `Session.request` and every library built on requests end in
`Session.send(prepared_request, stream=..., ...)`. For a request a parser claims, a `Call` is
opened before sending and finished when the caller has the whole response:

- `stream=False` (the default): requests has read the body inside `send`; it is parsed at once.
- `stream=True`: `response.raw` (urllib3's response) is replaced by a proxy that hands every
  chunk read through `stream()` (what `iter_content`, `iter_lines` and `.content` use), `read()`,
  `read1()` or `for line in response.raw` to the shared `Sink`; the call ends when the body ends,
  when the response is closed, when a read fails, or when the response is dropped.

The caller gets the same response object, bytes and exceptions as without us (the proxy passes
everything else through and still passes `isinstance` checks). Redirect hops that requests sends
from inside `send` belong to the outer call (see `common.sending`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import FunctionType, ModuleType
from typing import Any
from urllib.parse import urlsplit

import wrapt

from otel_ai_cost.providers.base import WireProtocol
from otel_ai_cost.providers.routing import Router
from otel_ai_cost.telemetry.recorder import Call, Recorder
from otel_ai_cost.transports.common import (
    Outgoing,
    Sink,
    begin_call,
    end_when_dropped,
    live_hooks,
    no_usage,
    parse_whole,
    send_in_call,
    take_out,
    tee,
)


def install(module: ModuleType, recorder: Recorder, endpoints: Mapping[str, str] | None) -> RequestsHooks:
    """Wrap `requests.Session.send` (module is `requests`), once; the hooks in force."""
    hooks = live_hooks(module.Session.__dict__.get("send"), RequestsHooks)
    if hooks is None:
        hooks = RequestsHooks(recorder, endpoints)
        wrapt.wrap_function_wrapper(module, "Session.send", hooks.send)
    return hooks


def uninstall(module: ModuleType) -> None:
    """Restore the original method; if another instrumentation wrapped ours since, switch ours off instead."""
    hooks = live_hooks(module.Session.__dict__.get("send"), RequestsHooks)
    if hooks is not None:
        take_out(hooks, module.Session, "send")


class RequestsHooks:
    """The wrapt wrapper of `requests.Session.send`."""

    def __init__(self, recorder: Recorder, endpoints: Mapping[str, str] | None) -> None:
        self.recorder = recorder
        self.router = Router(endpoints)
        self.enabled = True
        """Off once uninstrumented while another instrumentation's wrapper keeps ours in the chain."""

    def send(self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        begun = self._begin(args, kwargs)
        if begun is None:
            return wrapped(*args, **kwargs)
        call, protocol = begun
        response = send_in_call(call, wrapped, args, kwargs)
        self._watch(call, protocol, response, bool(kwargs.get("stream", False)))
        return response

    def _begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Call, WireProtocol] | None:
        request = args[0] if args else kwargs.get("request")
        if request is None or not self.enabled:
            return None
        return begin_call(self.recorder, self.router, request, _outgoing, _request_body)

    def _watch(self, call: Call, protocol: WireProtocol, response: Any, streamed: bool) -> None:
        try:
            status = response.status_code
            if status >= 400:
                call.fail(str(status))
                return
            if not streamed or response._content_consumed:
                call.finish(parse_whole(self.recorder, protocol, call.facts, response.content or b""))
                return
            raw = response.raw
            tee_class = _TeeRaw if callable(getattr(raw, "stream", None)) else _TeeFile
            response.raw = tee_class(raw, Sink(self.recorder, call, protocol, response.headers))
        except Exception as exc:
            self.recorder.internal_error("response", exc)
            call.finish(no_usage(call.facts))


def _outgoing(request: Any) -> Outgoing:
    url = urlsplit(request.url)
    port = url.port
    if port == (443 if url.scheme == "https" else 80):
        port = None  # as httpx reports it: None for the scheme's default
    return Outgoing(request.method or "GET", url.scheme, url.hostname or "", port, url.path, request.headers)


def _request_body(request: Any) -> bytes:
    """The prepared body when it is in memory; a file or generator body is not read."""
    body = request.body
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8", "replace")
    return b""


class _TeeFile(wrapt.ObjectProxy[Any]):
    """A response's `raw` that is a plain file-like object (a custom adapter's), with every chunk the
    caller reads also handed to the sink; the bytes are as the server sent them."""

    def __init__(self, raw: Any, sink: Sink) -> None:
        super().__init__(raw)
        self._self_sink = sink
        end_when_dropped(self, sink.done)  # a response dropped unread still ends its span

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return self._self_tee(self.__wrapped__.read, args, kwargs, unsized_is_whole=True)

    def read1(self, *args: Any, **kwargs: Any) -> bytes:
        # Unsized, read1 returns what one read of the source gives, not the whole body.
        return self._self_tee(self.__wrapped__.read1, args, kwargs, unsized_is_whole=False)

    def readline(self, *args: Any, **kwargs: Any) -> bytes:
        return self._self_tee(self.__wrapped__.readline, args, kwargs, unsized_is_whole=False)

    def readlines(self, *args: Any, **kwargs: Any) -> list[bytes]:
        """The raw's own `readlines` (its hint semantics, urllib3's decoded lines), teed."""
        sink = self._self_sink
        self._self_mode(True)  # urllib3 reads lines from its decoded stream
        try:
            lines: list[bytes] = self.__wrapped__.readlines(*args, **kwargs)
        except BaseException as exc:
            sink.failed(exc)
            raise
        if lines:
            sink.feed(b"".join(lines))
        hint = args[0] if args else kwargs.get("hint")
        if not lines or hint is None or (isinstance(hint, int) and hint <= 0):
            sink.done()  # read to the end
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _self_mode(self, decode_content: bool | None) -> None:
        pass

    def _self_tee(
        self, read: Callable[..., bytes], args: tuple[Any, ...], kwargs: dict[str, Any], unsized_is_whole: bool
    ) -> bytes:
        sink = self._self_sink
        amt = args[0] if args else kwargs.get("amt", kwargs.get("size"))
        self._self_mode(args[1] if len(args) > 1 else kwargs.get("decode_content"))
        try:
            data = read(*args, **kwargs)
        except BaseException as exc:
            sink.failed(exc)
            raise
        if data:
            sink.feed(data)
        unsized = amt is None or (isinstance(amt, int) and amt < 0)
        if (not data and amt != 0) or (unsized and unsized_is_whole):
            sink.done()  # the end of the body (read() with no size reads it all)
        return data

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_sink.done()


class _TeeRaw(_TeeFile):
    """urllib3's response, with every chunk the caller reads also handed to the sink."""

    def __init__(self, raw: Any, sink: Sink) -> None:
        super().__init__(raw, sink)
        self._self_decoded: bool | None = None
        """Whether the bytes read so far were content-decoded (set by the first read)."""

    def _self_mode(self, decode_content: bool | None) -> None:
        decoded = bool(self.__wrapped__.decode_content if decode_content is None else decode_content)
        sink = self._self_sink
        if self._self_decoded is None:
            self._self_decoded = decoded
            if decoded:
                sink.take_decoded()  # urllib3 undid the Content-Encoding already
        elif self._self_decoded != decoded:
            sink.broken = True  # raw and decoded reads mixed: no whole body to parse

    def stream(self, amt: int | None = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        self._self_mode(decode_content)
        return tee(self.__wrapped__.stream(amt, decode_content=decode_content), self._self_sink)

    def __iter__(self) -> Iterator[bytes]:
        iterate = type(self.__wrapped__).__iter__
        if isinstance(iterate, FunctionType):  # urllib3's: lines split from `self.stream()`, run on us to tee them
            return iter(iterate(self))
        return iter(self.__wrapped__)
