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

import json
import re
from typing import Any

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import obj
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.providers.openai_response import ResponseState
from otel_ai_cost.providers.sse import MAX_EVENT_BYTES, SSEEvent, SSEStreamParser

_FINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_IMAGE_DONE_EVENTS = frozenset({"image_generation.completed", "image_edit.completed"})
_USAGE_EVENTS = _FINAL_RESPONSE_EVENTS | _IMAGE_DONE_EVENTS
_META_ATTEMPTS = 3
"""Chunks parsed for the model and id before giving up (Azure's first chunk has neither)."""

_WORTH_PARSING = re.compile(rb'"(?:usage"\s*:\s*\{|finish_reason"\s*:\s*")')
"""Chunks worth parsing: a usage object, or a finish reason that is not null (one search per
content delta). Keys inside JSON strings are escaped, \\", so content that mentions them does not
match."""
_OBJECT_VALUE = re.compile(rb"\s*:\s*\{")
_USAGE_TRIES = 4
"""`"usage"` keys looked at from the end for an object: chunks before the last have `"usage":null`."""
_TAIL_BYTES = 16 << 10
"""How far from the end a usage object is looked for (a stream without one is not searched whole)."""
_TAIL_EVENTS = 1
"""Events read before the last usage one: the finish reason's chunk comes just before it (or is it)."""
_DECODER = json.JSONDecoder()
_STRING_FIELD = {
    key: re.compile(rb'"' + key.encode() + rb'"\s*:\s*"([^"\\]{1,256})"')
    for key in ("id", "model", "size", "quality", "status", "reason", "service_tier")
}


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
        result = self._result = before.copy()
        result.usages.clear()
        result.finish.clear()
        self._meta_attempts = 0
        self._read_events(chunk[tail:])
        if (
            result.usages
            and result.finish
            and not self._typed_stream
            and (attempts <= 0 or (result.model is not None and not _first_events_add(chunk, tail, attempts, result)))
        ):
            return
        self._result, self._meta_attempts, self._typed_stream = before, attempts, False
        self._content_events = content_events
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
        parsed = self._result.build()
        parsed.content_events = self._content_events
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
        if name.startswith(("response.", "image_")):
            return  # deltas and lifecycle events of the Responses and image APIs: no usage
        if truncated:
            if _sniff_usage_event(raw):
                self._typed_event(name, raw, True)
            return
        if raw.startswith(b"[DONE]"):
            return
        if self._meta_attempts <= 0:
            if self._typed_stream:  # Responses or image events without `event:` lines (a proxy)
                if not _sniff_usage_event(raw):
                    return
            elif _WORTH_PARSING.search(raw) is None:
                self._content_events += 1
                return  # a content delta
        self._chunk(raw)

    def _chunk(self, raw: bytes) -> None:
        """An event worth parsing: a chat chunk, or a Responses or image event without its `event:` line."""
        data = _json.load(raw)
        if data is None:
            return
        kind = data.get("type")
        if isinstance(kind, str) and kind.startswith(("response.", "image_")):
            self._typed_stream = True
            self._meta_attempts = 0
            self._typed(kind, data)
            return
        result = self._result
        result.meta(data)
        self._meta_attempts = 0 if result.model is not None else self._meta_attempts - 1
        usage = obj(data.get("usage"))
        if usage is None:
            usage = obj((obj(data.get("x_groq")) or {}).get("usage"))  # Groq's last chunk
        if usage is not None:
            result.usages[:] = [usage]  # vLLM's continuous usage stats repeat it, cumulative
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
                    result.usages[:] = [usage]
                result.status(response)
        elif kind in _IMAGE_DONE_EVENTS:
            result.images += 1
            usage = obj(data.get("usage"))
            if usage is not None:
                result.usages.append(usage)
            result.image_facts(data)
        elif kind.startswith("response."):
            response = obj(data.get("response"))
            if response is not None:
                result.meta(response)

    def _salvage(self, name: str, raw: bytes) -> None:
        """Usage from the head and tail of an event too large to keep whole (see `sse`)."""
        head = raw[:256]
        result = self._result
        usage = _last_object(raw, b'"usage"')
        if name in _IMAGE_DONE_EVENTS or b"image_generation.completed" in head or b"image_edit.completed" in head:
            result.images += 1
            if usage is not None:
                result.usages.append(usage)
            result.image_facts({key: _last_string(raw, key) for key in ("size", "quality")})
            return
        if name not in _FINAL_RESPONSE_EVENTS and not any(kind.encode() in head for kind in _FINAL_RESPONSE_EVENTS):
            return
        if usage is not None:
            result.usages[:] = [usage]
        result.meta(
            {
                "id": _first_string(raw, "id"),
                "model": _first_string(raw, "model"),
                "service_tier": _last_string(raw, "service_tier"),
            }
        )
        status = _first_string(raw, "status")
        if status is not None:
            result.status({"status": status, "incomplete_details": {"reason": _first_string(raw, "reason")}})


def _tail_start(chunk: bytes) -> int:
    """Where the last events of `chunk` start when it is whole events (no CR) with a usage object near
    its end: the event of the last usage and the `_TAIL_EVENTS` before it. Else -1."""
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
    return at + 2


def _first_events_add(chunk: bytes, tail: int, events: int, result: ResponseState) -> bool:
    """The first `events` events before `tail` may say an id or service tier `result` lacks."""
    end = 0
    for _ in range(events):
        end = chunk.find(b"\n\n", end, tail) + 2
        if end < 2:
            end = tail
            break
    first = chunk[:end]
    return (result.response_id is None and b'"id"' in first) or (result.tier is None and b'"service_tier"' in first)


def _sniff_usage_event(raw: bytes) -> bool:
    """An unnamed event that may be a usage-carrying Responses or image event."""
    return b'.completed"' in raw or b'"response.incomplete"' in raw or b'"response.failed"' in raw


def _last_object(raw: bytes, key: bytes) -> dict[str, Any] | None:
    """The JSON object that is the value of the last `key` in `raw`, read without parsing the rest."""
    for match in reversed(list(re.finditer(re.escape(key) + rb"\s*:\s*\{", raw))):
        start = match.end() - 1
        try:
            value, _ = _DECODER.raw_decode(raw[start : start + 65536].decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _first_string(raw: bytes, key: str) -> str | None:
    match = _STRING_FIELD[key].search(raw)
    return match.group(1).decode("utf-8", "replace") if match else None


def _last_string(raw: bytes, key: str) -> str | None:
    found = _STRING_FIELD[key].findall(raw)
    return found[-1].decode("utf-8", "replace") if found else None
