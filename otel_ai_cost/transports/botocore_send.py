"""The second transport: botocore's `BaseClient._make_api_call`, for Bedrock Runtime.

One span per API call (botocore's retries happen inside it: only the attempt that answered is
billed). A call that raises is finished at once with `error.type` = the AWS error code
(ThrottlingException, ...). A response whose payload the caller still has to read is watched
without changing it: the very `StreamingBody` of InvokeModel keeps its identity and reads from
a tee over its raw stream; the `EventStream` of ConverseStream / InvokeModelWithResponseStream
is replaced in the response dict by a transparent proxy that yields the very same events. The
call is finished when the caller has read the whole payload, closes it, drops it, or reading
fails, exactly once. This module knows botocore, not any model's JSON: `providers.bedrock` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import wrapt
from botocore.eventstream import EventStream  # type: ignore[import-untyped]
from botocore.response import StreamingBody  # type: ignore[import-untyped]
from opentelemetry import context

from otel_ai_cost.budgets import BudgetExceeded, check_before_send
from otel_ai_cost.providers import bedrock
from otel_ai_cost.telemetry.recorder import Call, Recorder
from otel_ai_cost.transports.common import (
    CappedBody,
    end_collected,
    end_when_dropped,
    live_hooks,
    no_usage,
    send_in_call,
    steps_aside,
    take_out,
)

SERVICE = "bedrock-runtime"


def install(module: ModuleType, recorder: Recorder, endpoints: Mapping[str, str] | None = None) -> BotocoreHooks:
    """Wrap `module.BaseClient._make_api_call` (module is `botocore.client`), once; the hooks in force.
    `endpoints` is not used: Bedrock Runtime is known by its service name, wherever it is served."""
    hooks = live_hooks(module.BaseClient.__dict__.get("_make_api_call"), BotocoreHooks)
    if hooks is None:
        hooks = BotocoreHooks(recorder)
        wrapt.wrap_function_wrapper(module, "BaseClient._make_api_call", hooks.make_api_call)
    return hooks


def uninstall(module: ModuleType) -> None:
    """Restore the original method; if another instrumentation wrapped ours since, switch ours off instead."""
    hooks = live_hooks(module.BaseClient.__dict__.get("_make_api_call"), BotocoreHooks)
    if hooks is not None:
        take_out(hooks, module.BaseClient, "_make_api_call")


class BotocoreHooks:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.enabled = True

    def make_api_call(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        begun = self._begin(instance, args, kwargs)
        if begun is None:
            return wrapped(*args, **kwargs)
        call, request = begun
        response = send_in_call(call, wrapped, args, kwargs, error_of=_error)
        self._watch(call, request, response)
        return response

    def _begin(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Call, bedrock.BedrockRequest] | None:
        try:
            if not self.enabled or instance._service_model.service_name != SERVICE:
                return None
            end_collected()
            ctx = context.get_current()
            if steps_aside(ctx):
                return None
            operation = args[0] if args else kwargs.get("operation_name")
            params = args[1] if len(args) > 1 else kwargs.get("api_params")
            if not isinstance(operation, str) or not isinstance(params, Mapping):
                return None
            request = bedrock.parse_request(operation, params)
            if request is None:
                return None
            url = urlsplit(instance.meta.endpoint_url or "")
            port = url.port or (443 if url.scheme == "https" else 80)
            check_before_send(self.recorder, ctx)
            return self.recorder.start(request.facts, url.hostname or "", port, ctx), request
        except BudgetExceeded:
            raise  # the one exception of ours the caller gets, on purpose: the request is not sent
        except Exception as exc:
            self.recorder.internal_error("botocore request", exc)
            return None

    def _watch(self, call: Call, request: bedrock.BedrockRequest, response: Any) -> None:
        try:
            if not isinstance(response, dict):
                call.finish(no_usage(call.facts))
                return
            for key, value in response.items():
                if isinstance(value, EventStream):
                    sink = _Sink(self.recorder, call, request, None)
                    response[key] = TeeEventStream(value, sink)
                    return
                if isinstance(value, StreamingBody) and request.reads_body:
                    # The caller's StreamingBody stays the same object; it reads through our tee.
                    metadata = {k: v for k, v in response.items() if k != key}
                    sink = _Sink(self.recorder, call, request, metadata)
                    value._raw_stream = TeeRawStream(value._raw_stream, sink, _content_length(value))
                    return
            call.finish(request.parse_response(response, None))
        except Exception as exc:
            self.recorder.internal_error("botocore response", exc)
            call.finish(no_usage(call.facts))


def _error(exc: BaseException) -> tuple[str, str]:
    """`error.type` and the span status description: the AWS error code when botocore parsed one,
    else the exception's type.

    No message is kept: AWS's validation messages and botocore's own (`ParamValidationError`, raised
    before sending) quote the request, prompt included.
    """
    error_type = type(exc).__qualname__
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if isinstance(code, str) and code:
            return code, f"{error_type}: {code}"
    return error_type, error_type


def _content_length(body: Any) -> int | None:
    length = getattr(body, "_content_length", None)
    try:
        return int(length) if length is not None else None
    except (TypeError, ValueError):
        return None


class _Sink:
    """Where the tees send what the caller reads: parse it, and finish the call once."""

    def __init__(
        self,
        recorder: Recorder,
        call: Call,
        request: bedrock.BedrockRequest,
        response: dict[str, Any] | None,
    ) -> None:
        self.recorder = recorder
        self.call = call
        self.request = request
        self.response = response
        """The parsed response without its payload (headers, service tier), for a whole body."""
        self.stream_parser = request.stream_parser() if response is None else None
        self.whole_body = CappedBody()
        self.broken = False
        self.done_already = False

    def event(self, event: Any) -> None:
        if self.broken or self.stream_parser is None:
            return
        try:
            self.stream_parser.feed(event)
        except Exception as exc:
            self.broken = True
            self.recorder.internal_error("botocore stream", exc)

    def body(self, chunk: bytes) -> None:
        if chunk:
            self.whole_body.add(chunk)

    def done(self) -> None:
        if self.done_already:
            return
        self.done_already = True
        parsed = no_usage(self.call.facts)
        try:
            if self.stream_parser is not None:
                if not self.broken:
                    parsed = self.stream_parser.finish()
            else:
                parsed = self.request.parse_response(self.response or {}, self.whole_body.value())
        except Exception as exc:
            self.recorder.internal_error("botocore parse", exc)
        self.call.finish(parsed)

    def failed(self, exc: BaseException) -> None:
        """Reading raised (a stream's exception event, the connection lost): the call fails, with the
        usage the events read had reported (an Anthropic body's `message_start` gives its input)."""
        if self.done_already:
            return
        self.done_already = True
        parsed = None
        if self.stream_parser is not None and not self.broken:
            try:
                parsed = self.stream_parser.finish()
            except Exception as parse_error:
                self.recorder.internal_error("botocore parse", parse_error)
        self.call.fail_reading(parsed, *_error(exc))


class TeeEventStream(wrapt.ObjectProxy[Any]):
    """botocore's EventStream, yielding the very same events, each also handed to the sink."""

    def __init__(self, wrapped: EventStream, sink: _Sink) -> None:
        super().__init__(wrapped)
        self._self_sink = sink
        end_when_dropped(self, sink.done)  # a stream dropped unread still ends its span

    def __iter__(self) -> Iterator[Any]:
        sink = self._self_sink
        try:
            for event in self.__wrapped__:
                sink.event(event)
                yield event
        except GeneratorExit:
            sink.done()  # the caller stopped reading: what was read is what was paid for
            raise
        except BaseException as exc:
            sink.failed(exc)
            raise
        sink.done()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_sink.done()


class TeeRawStream(wrapt.ObjectProxy[Any]):
    """The raw stream (urllib3 response) under a StreamingBody: what is read is also handed to the sink."""

    def __init__(self, wrapped: Any, sink: _Sink, content_length: int | None) -> None:
        super().__init__(wrapped)
        self._self_sink = sink
        self._self_expected = content_length
        self._self_seen = 0
        end_when_dropped(self, sink.done)

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> Any:
        sink = self._self_sink
        try:
            chunk = self.__wrapped__.read(amt, *args, **kwargs)
        except BaseException as exc:
            sink.failed(exc)
            raise
        self._saw(chunk, whole=amt is None or (not chunk and amt > 0))
        return chunk

    def readinto(self, buffer: Any) -> Any:
        sink = self._self_sink
        try:
            amount = self.__wrapped__.readinto(buffer)
        except BaseException as exc:
            sink.failed(exc)
            raise
        self._saw(bytes(memoryview(buffer)[:amount]), whole=amount == 0 and len(buffer) > 0)
        return amount

    def readlines(self, *args: Any, **kwargs: Any) -> Any:
        sink = self._self_sink
        try:
            lines = self.__wrapped__.readlines(*args, **kwargs)
        except BaseException as exc:
            sink.failed(exc)
            raise
        self._saw(b"".join(lines), whole=not args and not kwargs)
        return lines

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_sink.done()

    def _saw(self, chunk: Any, *, whole: bool) -> None:
        sink = self._self_sink
        try:
            if isinstance(chunk, bytes) and chunk:
                sink.body(chunk)
                self._self_seen += len(chunk)
            expected = self._self_expected
            if whole or (expected is not None and self._self_seen >= expected):
                sink.done()
        except Exception as exc:
            sink.recorder.internal_error("botocore body", exc)
