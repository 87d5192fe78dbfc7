"""The wire: `Client.send` and `AsyncClient.send` of httpx2 and httpx, wrapped with wrapt.

For a request a parser claims, a `Call` is opened before sending and finished when the caller
has the whole response: at once for a read response, or when a streamed one ends, is closed
early or fails. The caller gets the very response object, bytes and exceptions it would get
without us; everything of ours runs under a guard that counts and swallows its own errors.
This module knows nothing of any provider's JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import wrapt

from otel_ai_cost.providers.base import WireProtocol
from otel_ai_cost.providers.multipart import MAX_PARTS
from otel_ai_cost.providers.routing import Router
from otel_ai_cost.telemetry.recorder import Call, Recorder
from otel_ai_cost.transports.common import (
    KEPT_BYTES,
    Outgoing,
    Sink,
    begin_call,
    end_when_dropped,
    live_hooks,
    no_usage,
    parse_whole,
    send_in_call,
    send_in_call_async,
    take_out,
    tee,
)

__all__ = ["SendHooks", "install", "uninstall"]


def install(module: ModuleType, recorder: Recorder, endpoints: Mapping[str, str] | None) -> SendHooks:
    """Wrap `Client.send` and `AsyncClient.send` of `module` (httpx or httpx2), once; the hooks in force."""
    hooks = live_hooks(module.Client.__dict__.get("send"), SendHooks)
    if hooks is None:
        hooks = SendHooks(module, recorder, endpoints)
        wrapt.wrap_function_wrapper(module, "Client.send", hooks.send)
        wrapt.wrap_function_wrapper(module, "AsyncClient.send", hooks.send_async)
    return hooks


def uninstall(module: ModuleType) -> None:
    """Restore the original methods; one another instrumentation wrapped since stays, ours switched off."""
    hooks = live_hooks(module.Client.__dict__.get("send"), SendHooks) or live_hooks(
        module.AsyncClient.__dict__.get("send"), SendHooks
    )
    if hooks is not None:
        take_out(hooks, module.Client, "send")
        take_out(hooks, module.AsyncClient, "send")


class SendHooks:
    """The wrapt wrappers for one httpx-like module (httpx or httpx2)."""

    def __init__(self, module: ModuleType, recorder: Recorder, endpoints: Mapping[str, str] | None) -> None:
        self.recorder = recorder
        self.router = Router(endpoints)
        self.sync_tee = _sync_tee_class(module.SyncByteStream)
        self.async_tee = _async_tee_class(module.AsyncByteStream)
        self.enabled = True
        """Off once uninstrumented while another instrumentation's wrapper keeps ours in the chain."""

    def send(self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        begun = self._begin(args, kwargs)
        if begun is None:
            return wrapped(*args, **kwargs)
        call, protocol = begun
        response = send_in_call(call, wrapped, args, kwargs)
        self._watch(call, protocol, response, bool(kwargs.get("stream", False)), is_async=False)
        return response

    async def send_async(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        begun = self._begin(args, kwargs)
        if begun is None:
            return await wrapped(*args, **kwargs)
        call, protocol = begun
        response = await send_in_call_async(call, wrapped, args, kwargs)
        self._watch(call, protocol, response, bool(kwargs.get("stream", False)), is_async=True)
        return response

    def _begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Call, WireProtocol] | None:
        request = args[0] if args else kwargs.get("request")
        if request is None or not self.enabled:
            return None
        return begin_call(self.recorder, self.router, request, _outgoing, _request_body)

    def _watch(self, call: Call, protocol: WireProtocol, response: Any, streamed: bool, *, is_async: bool) -> None:
        try:
            status = response.status_code
            if status >= 400:
                call.fail(str(status))
                return
            if not streamed:
                call.finish(parse_whole(self.recorder, protocol, call.facts, response.content))
                return
            sink = Sink(self.recorder, call, protocol, response.headers)
            in_memory = getattr(response, "_content", None)
            if isinstance(in_memory, bytes):
                # Built with its content (a mock or a cached response): no bytes will flow to tee.
                sink.take_decoded()
                sink.feed(in_memory)
                sink.done()
                return
            tee = self.async_tee if is_async else self.sync_tee
            response.stream = tee(response.stream, sink)
        except Exception as exc:
            self.recorder.internal_error("response", exc)
            call.finish(no_usage(call.facts))


def _outgoing(request: Any) -> Outgoing:
    url = request.url
    return Outgoing(request.method, url.scheme, url.host, url.port, url.path, request.headers)


def _request_body(request: Any) -> bytes:
    try:
        content = request.content  # raises when the body is a stream not yet read
    except Exception:
        return _form_fields(request.stream)
    return content if isinstance(content, bytes) else b""


def _form_fields(stream: Any) -> bytes:
    """The text fields of a multipart body not read yet (SDKs send files as a stream), as multipart
    bytes without the files: the files are the caller's to read, once."""
    fields, boundary = getattr(stream, "fields", None), getattr(stream, "boundary", None)
    if not isinstance(fields, list) or not isinstance(boundary, bytes):
        return b""
    parts = []
    for field in fields[:MAX_PARTS]:
        if hasattr(field, "filename") or not isinstance(getattr(field, "value", None), (str, bytes)):
            continue  # a file: its bytes may be a file object that cannot be read twice
        parts.append(b"--%s\r\n%s\r\n" % (boundary, b"".join(field.render())))
    return b"".join(parts) + b"--%s--\r\n" % boundary if parts else b""


def _sync_tee_class(base: type) -> type:
    class TeeStream(base):  # type: ignore[misc]
        """The response's byte stream, with every chunk also handed to the sink."""

        def __init__(self, inner: Any, sink: Sink) -> None:
            self.inner = inner
            self.sink = sink
            end_when_dropped(self, sink.done)  # a response dropped unread still ends its span

        def __iter__(self) -> Iterator[bytes]:
            return tee(self.inner, self.sink)

        def close(self) -> None:
            try:
                self.inner.close()
            finally:
                self.sink.done()

    return TeeStream


def _async_tee_class(base: type) -> type:
    class AsyncTeeStream(base):  # type: ignore[misc]
        """The response's async byte stream, with every chunk also handed to the sink."""

        def __init__(self, inner: Any, sink: Sink) -> None:
            self.inner = inner
            self.sink = sink
            end_when_dropped(self, sink.done)

        async def __aiter__(self) -> AsyncIterator[bytes]:
            sink = self.sink
            kept, size = sink.kept, 0
            chunks = self.inner.__aiter__()
            try:
                async for chunk in chunks:
                    kept.append(chunk)  # sink.feed(chunk), without a call per chunk (see tee)
                    size += len(chunk)
                    if size > KEPT_BYTES:
                        sink.parse_kept()
                        size = 0
                    yield chunk
            except (GeneratorExit, asyncio.CancelledError):
                # The caller stopped reading, or cancelled the read: e.g. openai's bounded drain after
                # [DONE] is cancelled on a busy loop, after the usage arrived. What was read is what was paid for.
                sink.done()
                raise
            except BaseException as exc:
                sink.failed(exc)
                raise
            finally:
                # As httpx's own stream wrapper does: the generators below close now, in this task,
                # not later from the garbage collector's hook in another.
                if isinstance(chunks, AsyncGenerator):
                    await chunks.aclose()
            sink.done()

        async def aclose(self) -> None:
            try:
                await self.inner.aclose()
            finally:
                self.sink.done()

    return AsyncTeeStream
