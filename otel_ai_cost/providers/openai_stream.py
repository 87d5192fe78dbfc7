"""Usage from the SSE stream of an OpenAI-style response, parsing only the events that carry it.

- chat/completions chunks: the first chunks (model, id; Azure's first has neither), the chunks
  whose `usage` is an object (the last one with `stream_options.include_usage`; Groq's
  `x_groq.usage`) and those with a non-null `finish_reason`; content deltas are recognised
  without parsing them
- the Responses API: `response.completed` / `response.incomplete` / `response.failed`
- gpt-image-1 image streams: `image_generation.completed` / `image_edit.completed`

Those large final events may pass the SSE reader's cap: usage is then read from the tail it
keeps (see `sse`).

A buffer of whole events (the tee hands over the whole stream, or 256 KiB of it) is not read event
by event: a chat stream of one choice whose last events hold a usage object (`include_usage`,
Groq, vLLM) is read only there, and any other buffer of plain `data:` events is searched in one
scan for the events worth parsing. Both give what reading every event gives (see `_read_ends`).
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import first_string, last_object, last_string, obj, text
from otel_ai_cost.providers.anthropic import UNKNOWN_STREAM_ERROR
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.providers.openai_response import ResponseState, add_tokens
from otel_ai_cost.providers.sse import MAX_EVENT_BYTES, SSEEvent, SSEStreamParser
from otel_ai_cost.usage import Usage

_FINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_IMAGE_DONE_EVENTS = frozenset({"image_generation.completed", "image_edit.completed"})
_USAGE_EVENTS = _FINAL_RESPONSE_EVENTS | _IMAGE_DONE_EVENTS
_META_ATTEMPTS = 3
"""Chunks parsed for the model and id before giving up (Azure's first chunk has neither)."""

_WORTH_PARSING = re.compile(rb'"(?:usage"\s*:\s*\{|finish_reason"\s*:\s*"|error"\s*:\s*\{)')
"""Chunks worth parsing: a usage object, a finish reason that is not null, or an error object (one
search per content delta). Keys inside JSON strings are escaped, \\", so content that mentions them
does not match."""

_OBJECT_VALUE = re.compile(rb"\s*:\s*\{")
_USAGE_TRIES = 4
"""`"usage"` keys looked at from the end for an object: chunks before the last have `"usage":null`."""
_SUMMED = tuple(field.name for field in fields(Usage) if field.name.endswith("_tokens")) + ("provider_reported_cost",)
"""The fields `add_tokens` adds to."""
_TAIL_BYTES = 16 << 10
"""How far from the end a usage object is looked for (a stream without one is not searched whole)."""
_TAIL_EVENTS = 1
"""Events read before the last usage one: the finish reason's chunk comes just before it (or is it)."""
_BACKGROUND = re.compile(rb'"background"\s*:\s*true')
_WEB_SEARCH_CALLS = re.compile(rb'"type"\s*:\s*"web_search_call"')
_FILE_SEARCH_CALLS = re.compile(rb'"type"\s*:\s*"file_search_call"')
_ITEM_DONE = b'"response.output_item.done"'
_ITEM_TOOL_CALL = re.compile(rb'"item"\s*:\s*\{[^{}]*?"type"\s*:\s*"(web_search_call|file_search_call)"')
"""A finished output item that is a web or file search (its type comes before any nested object)."""


class OpenAIStreamParser(SSEStreamParser):
    """Usage from the SSE stream of an OpenAI-style response, fed in chunks of any size."""

    def __init__(self, facts: RequestFacts, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        super().__init__(max_event_bytes)
        self._result = ResponseState(facts)
        self._meta_attempts = _META_ATTEMPTS
        self._typed_stream = False
        """The first event parsed had a `type` (Responses or image events): sniff for their final events."""
        self._content_events = 0
        self._one_choice = facts.choices == 1
        """Only the ends of the stream need reading when they hold its usage (see `_read_ends`)."""
        self._max_event_bytes = max_event_bytes
        self._summed: Usage | None = None
        """The result's usages added up (and emptied) once an image event's came: a stream may hold any
        number, so they are summed as they come, not kept."""
        self._summed_found = False
        self._tool_calls = {"web_search_call": 0, "file_search_call": 0}
        """Search calls seen finished one by one (`response.output_item.done`): a final event too
        large to keep whole may hold more of them than its kept head and tail show."""
        self._error_type: str | None = None
        """An error chunk's (`data: {"error": {...}}`, the server failing mid-stream): the call failed."""

    def feed(self, chunk: bytes) -> None:
        if self._one_choice and not (self._closed or self._typed_stream):
            tail = _tail_start(chunk) if self._sse.between_events() else -1
            if tail > 0:
                self._read_ends(chunk, tail)
                return
        self._read_events(chunk)

    def _read_ends(self, chunk: bytes, tail: int) -> None:
        """Whole events with a usage object in the last few: those last events, from `tail` on. When
        they say the usage, the finish reason and the model, the events before are not read: in a
        chat stream of one choice they can only be content deltas, or usage and names that the last
        ones supersede (the first events are read when they hold an id or tier the last ones lack).
        Else every event is read, from the state before."""
        before, attempts, content_events = self._result, self._meta_attempts, self._content_events
        summed, summed_found = self._summed, self._summed_found
        result = self._result = before.copy()
        result.usages.clear()
        result.finish.clear()
        result.model = None  # the last events must say it: one worth parsing before them may
        self._summed = None
        self._meta_attempts = 0
        self._read_events(chunk[tail:])
        if (
            (result.usages or self._summed is not None)
            and result.finish
            and result.model is not None
            and not self._typed_stream
            and (attempts <= 0 or not _first_events_add(chunk, tail, attempts, result, self._max_event_bytes))
        ):
            return
        self._result, self._meta_attempts, self._typed_stream = before, attempts, False
        self._content_events, self._summed, self._summed_found = content_events, summed, summed_found
        self._read_events(chunk)

    def _read_events(self, chunk: bytes) -> None:
        """Every event of `chunk`."""
        events = 0 if self._closed or self._typed_stream else self._sse.plain_events(chunk)
        if not events:
            super().feed(chunk)
            return
        # Plain chat chunks (the tee hands over a whole stream, or 256 KiB of it, at once): what
        # `_event` does with each, with one regex scan over them all instead of one call per event.
        cursor = 0
        while self._meta_attempts > 0 and cursor < len(chunk):
            end = chunk.find(b"\n\n", cursor)
            self._event(SSEEvent("message", chunk[cursor + 6 : end]))
            cursor = end + 2
            events -= 1
        rest = cursor
        for match in _WORTH_PARSING.finditer(chunk, cursor):
            if self._typed_stream:
                break
            if match.start() < cursor:
                continue  # a second match in an event already parsed
            before = chunk.rfind(b"\n\n", cursor, match.start())
            start = cursor if before < 0 else before + 2
            end = chunk.find(b"\n\n", match.end())
            self._chunk(chunk[start + 6 : end])
            cursor = end + 2
            events -= 1
        end = len(chunk)
        if self._typed_stream:  # a Responses or image event without its `event:` line: the rest one by one
            events -= chunk.count(b"\n\n", cursor)
            end = cursor
            super().feed(chunk[cursor:])
        # The events not parsed are content deltas, but for `[DONE]` (which a delta can't be: not JSON).
        done = chunk.count(b"\n\ndata: [DONE]", max(rest - 2, 0), end)
        if rest == 0 and chunk.startswith(b"data: [DONE]"):
            done += 1
        self._content_events += events - done

    def _build(self) -> ParsedResponse:
        result = self._result
        result.web_searches = max(result.web_searches, self._tool_calls["web_search_call"])
        result.file_searches = max(result.file_searches, self._tool_calls["file_search_call"])
        parsed = result.build()
        summed = self._summed
        if summed is not None:  # the usages, added up (and emptied)
            usage = parsed.usage
            for name in _SUMMED:
                setattr(usage, name, getattr(summed, name))
            parsed.usage_found = parsed.usage_found or self._summed_found
        parsed.content_events = self._content_events
        parsed.error_type = self._error_type
        return parsed

    def _event(self, event: SSEEvent) -> None:
        name, raw, truncated = event
        if name == "message" and not truncated and self._meta_attempts <= 0 and not self._typed_stream:
            # The usual event, a chat chunk after the first: the checks below, in the order that matters here.
            if raw.startswith(b"[DONE]"):
                return
            if _WORTH_PARSING.search(raw) is None:
                self._content_events += 1
                return  # a content delta
            self._chunk(raw)
            return
        if name in _USAGE_EVENTS:
            self._typed_event(name, raw, truncated)
            return
        if name == "response.output_item.done":
            self._count_tool_call(raw)
            return
        if name.startswith(("response.", "image_")):
            if _BACKGROUND.search(raw) is not None:  # a background response's status: one cut short is billed later
                self._typed_event(name, raw, truncated)
            return  # deltas and lifecycle events of the Responses and image APIs: no usage
        if truncated:
            if _sniff_usage_event(raw):
                self._typed_event(name, raw, True)
            return
        if raw.startswith(b"[DONE]"):
            return
        if self._meta_attempts <= 0:
            if self._typed_stream:  # Responses or image events without `event:` lines (a proxy)
                if _ITEM_DONE in raw[:64]:
                    self._count_tool_call(raw)
                    return
                if not _sniff_usage_event(raw) and _BACKGROUND.search(raw) is None:
                    return
            elif _WORTH_PARSING.search(raw) is None:
                self._content_events += 1
                return  # a content delta
        self._chunk(raw)

    def _count_tool_call(self, raw: bytes) -> None:
        match = _ITEM_TOOL_CALL.search(raw, 0, 4096)
        if match is not None:
            self._tool_calls[match.group(1).decode()] += 1

    def _chunk(self, raw: bytes) -> None:
        """An event worth parsing: a chat chunk, or a Responses or image event without its `event:` line."""
        data = _json.load(raw)
        if data is None:
            # Not JSON, yet one of the chunks read for the model: `_first_events_add` counts them unparsed.
            self._meta_attempts = max(self._meta_attempts - 1, 0)
            return
        kind = data.get("type")
        if isinstance(kind, str) and kind.startswith(("response.", "image_")):
            self._typed_stream = True
            self._meta_attempts = 0
            self._typed(kind, data)
            return
        error = obj(data.get("error"))
        if error is not None:
            self._error_type = text(error.get("type")) or text(error.get("code")) or UNKNOWN_STREAM_ERROR
            return
        result = self._result
        result.meta(data)
        self._meta_attempts = 0 if result.model is not None else self._meta_attempts - 1
        usage = obj(data.get("usage"))
        if usage is None:
            usage = obj((obj(data.get("x_groq")) or {}).get("usage"))  # Groq's last chunk
        if usage is not None:
            self._set_usage(usage)  # vLLM's continuous usage stats repeat it, cumulative
        result.choices(data.get("choices"))

    def _typed_event(self, name: str, raw: bytes, truncated: bool) -> None:
        """A Responses or image event that can carry usage; `name` is its `event:` (or "message")."""
        if truncated:
            self._salvage(name, raw)
            return
        data = _json.load(raw)
        if data is not None:
            kind = data.get("type")
            self._typed(kind if isinstance(kind, str) else name, data)

    def _typed(self, kind: str, data: dict[str, Any]) -> None:
        result = self._result
        if kind in _FINAL_RESPONSE_EVENTS:
            response = obj(data.get("response"))
            if response is not None:
                result.meta(response)
                usage = obj(response.get("usage"))
                if usage is not None:
                    self._set_usage(usage)
                result.status(response)
                result.tool_calls(response)
        elif kind in _IMAGE_DONE_EVENTS:
            result.images += 1
            usage = obj(data.get("usage"))
            if usage is not None:
                self._add_usage(usage)
            result.image_facts(data)
        elif kind == "response.output_item.done":  # the first event of a stream without `event:` lines
            item_type = (obj(data.get("item")) or {}).get("type")
            if item_type in self._tool_calls:
                self._tool_calls[item_type] += 1
        elif kind.startswith("response."):
            response = obj(data.get("response"))
            if response is not None:
                result.meta(response)
                result.status(response)  # queued, in_progress: a background one cut here is billed when fetched

    def _salvage(self, name: str, raw: bytes) -> None:
        """Usage from the head and tail of an event too large to keep whole (see `sse`)."""
        head = raw[:256]
        result = self._result
        usage = last_object(raw, '"usage"', _USAGE_TRIES)
        if name in _IMAGE_DONE_EVENTS or b"image_generation.completed" in head or b"image_edit.completed" in head:
            result.images += 1
            if usage is not None:
                self._add_usage(usage)
            result.image_facts({key: last_string(raw, key) for key in ("size", "quality")})
            return
        if name not in _FINAL_RESPONSE_EVENTS and not any(kind.encode() in head for kind in _FINAL_RESPONSE_EVENTS):
            return
        if usage is not None:
            self._set_usage(usage)
        result.meta(
            {
                "id": first_string(raw, "id"),
                "model": first_string(raw, "model"),
                "service_tier": last_string(raw, "service_tier"),
            }
        )
        status = first_string(raw, "status")
        if status is not None:
            reason = {"reason": first_string(raw, "reason")}
            background = {"background": True} if _BACKGROUND.search(raw) else {}
            result.status({"status": status, "incomplete_details": reason, **background})
        # the output items in the head and tail kept: web searches come first, before the message
        result.web_searches = max(result.web_searches, len(_WEB_SEARCH_CALLS.findall(raw)))
        result.file_searches = max(result.file_searches, len(_FILE_SEARCH_CALLS.findall(raw)))

    def _set_usage(self, usage: dict[str, Any]) -> None:
        """A usage that says all of it: those before are dropped."""
        self._result.usages[:] = [usage]
        self._summed = None

    def _add_usage(self, usage: dict[str, Any]) -> None:
        """An image's usage, added to those before, in the order `ResponseState.build` adds them."""
        result = self._result
        summed = self._summed
        if summed is None:
            summed = self._summed = Usage(result.facts.provider)
            self._summed_found = False
            for counts in result.usages:
                self._summed_found = add_tokens(summed, counts, result.facts.operation) or self._summed_found
            result.usages.clear()
        self._summed_found = add_tokens(summed, usage, result.facts.operation) or self._summed_found


def _tail_start(chunk: bytes) -> int:
    """Where the last events of `chunk` start when it is whole events (no CR, no BOM) with a usage object
    near its end: the event of the last usage and the `_TAIL_EVENTS` before it. Else -1."""
    if not chunk.endswith(b"\n\n") or b"\r" in chunk:
        return -1
    end = len(chunk)
    lowest = max(0, end - _TAIL_BYTES)
    for _ in range(_USAGE_TRIES):
        at = chunk.rfind(b'"usage"', lowest, end)
        if at < 0:
            return -1
        if _OBJECT_VALUE.match(chunk, at + 7):
            break
        end = at
    else:
        return -1
    for _ in range(_TAIL_EVENTS + 1):
        at = chunk.rfind(b"\n\n", 0, at)
        if at < 0:
            return -1
    # The SSE reader drops a BOM from a stream's first line only: once the tail is read, the events
    # could no longer all be read as they are.
    return -1 if chunk.startswith(b"\xef\xbb\xbf") else at + 2


def _first_events_add(chunk: bytes, tail: int, events: int, result: ResponseState, max_data: int) -> bool:
    """The first `events` chunks before `tail` (the events read for the model) may say an id or service
    tier `result` lacks.

    Only blocks that are a chunk for sure are counted: one `data: {` line no longer than the event cap
    (JSON or not, see `_chunk`). Others (keep-alive comments, `[DONE]`, an `event:` line) are passed
    over, so the blocks searched hold at least the events read for the model."""
    if result.response_id is not None and result.tier is not None:
        return False
    end = 0
    while events > 0:
        start = end
        end = chunk.find(b"\n", start, tail) + 2
        if end >= 2 and chunk[end - 1] != 0x0A:  # a block of more lines
            end = chunk.find(b"\n\n", end, tail) + 2
        elif chunk.startswith(b"data: {", start) and end - start <= max_data + 8:
            events -= 1
        if end < 2:
            end = len(chunk)  # they run into the last events, not all read for the model there
            break
    return (result.response_id is None and chunk.find(b'"id"', 0, end) >= 0) or (
        result.tier is None and chunk.find(b'"service_tier"', 0, end) >= 0
    )


def _sniff_usage_event(raw: bytes) -> bool:
    """An unnamed event that may be a usage-carrying Responses or image event."""
    return b'.completed"' in raw or b'"response.incomplete"' in raw or b'"response.failed"' in raw
