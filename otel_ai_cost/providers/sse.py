"""An incremental server-sent-events reader (the HTML standard's event-stream format), over bytes.

Fed the response bytes in chunks split anywhere (even inside a CRLF), it returns the complete
events: the `event:` name ("message" when none) and the `data:` lines joined by "\\n". Lines end
in CRLF, LF or CR; lines starting with ":" are comments; `id:`, `retry:` and unknown fields are
ignored; a leading UTF-8 BOM is skipped. Nothing here raises on any input.

Memory is bounded by `max_event_bytes` per event. An event that grows past it is not kept whole:
its data keeps only the first `HEAD_BYTES` and the last `TAIL_BYTES` and the event comes out with
`truncated=True` (and is counted in `truncated_events`). Such data is not valid JSON, but usage
sits at the end of the large events that carry it (an OpenAI `response.completed` with a long
output, a gpt-image-1 `image_generation.completed` with its base64 image), so a parser can still
read it from the tail; every other parser simply skips truncated events.

One deliberate difference from a browser: `close()` dispatches the last event even when the
stream ended without the blank line that should terminate it, so a cut-off stream still yields
its final event (a parser then finds out whether that event is complete JSON).
"""

from __future__ import annotations

from typing import NamedTuple

from otel_ai_cost.providers.base import ParsedResponse

MAX_EVENT_BYTES = 1 << 20
"""Default cap on the bytes kept for one event: 1 MiB."""
HEAD_BYTES = 16 << 10
TAIL_BYTES = 64 << 10

_BOM = b"\xef\xbb\xbf"


class SSEEvent(NamedTuple):
    event: str
    data: bytes
    truncated: bool = False
    """The data was longer than the cap: `data` is its first HEAD_BYTES + its last TAIL_BYTES."""


_new_event = tuple.__new__
"""SSEEvent(name, data, truncated) without the Python-level `__new__` NamedTuple adds (one call per event)."""


def _event_type(name: bytes) -> str:
    """An event's type from the value of its `event:` line: "message" when there was none or it was empty."""
    return name[:256].decode("utf-8", "replace") if name else "message"


class _Capped:
    """Bytes appended piece by piece: all of them up to `cap`, beyond it only a head and a tail."""

    __slots__ = ("cap", "head", "tail", "parts", "size", "truncated")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.head = min(HEAD_BYTES, cap // 4)
        self.tail = min(TAIL_BYTES, cap // 2)
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, piece: bytes) -> None:
        self.parts.append(piece)
        self.size += len(piece)
        if self.truncated:
            if self.size > 2 * self.tail:
                kept = b"".join(self.parts[1:])[-self.tail :]
                self.parts[1:] = [kept]
                self.size = len(self.parts[0]) + len(kept)
        elif self.size > self.cap:
            whole = b"".join(self.parts)
            self.parts = [whole[: self.head], whole[-self.tail :]]
            self.size = self.head + self.tail
            self.truncated = True

    def value(self) -> bytes:
        if not self.truncated:
            return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        return self.parts[0] + b"".join(self.parts[1:])[-self.tail :]

    def clear(self) -> None:
        self.parts.clear()
        self.size = 0
        self.truncated = False


class SSEReader:
    """Feed it chunks (`feed`), then `close()` at the end of the stream; both return the events completed."""

    __slots__ = (
        "_cap",
        "_line",
        "_skip_lf",
        "_first_line",
        "_name",
        "_first",
        "_data",
        "_lines",
        "_truncated",
        "truncated_events",
    )

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._cap = cap = max(max_event_bytes, 64)
        self._line = _Capped(cap + 6)
        """The start of a line whose end has not arrived yet (`data: ` and up to `cap` bytes of data are
        kept whole, as they are when the line arrives in one chunk)."""
        self._skip_lf = False
        """The last chunk ended in CR: an LF starting the next one belongs to the same line end."""
        self._first_line = True
        self._name = b""
        self._first: bytes | None = None
        """The data of an event that has one `data:` line so far (the usual case)."""
        self._data = _Capped(cap)
        """The data of an event with several `data:` lines (or one too long for `_first`)."""
        self._lines = 0
        """`data:` lines in the current event."""
        self._truncated = False
        """A line of the current event was cut to its head and tail."""
        self.truncated_events = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by `chunk`."""
        if (
            chunk.endswith(b"\n\n")
            and chunk.startswith(b"data:")
            and chunk.find(b"\n") == len(chunk) - 2
            and not (self._lines or self._name or self._skip_lf or self._line.parts)
            and b"\r" not in chunk
            and len(chunk) <= self._cap
        ):
            # The usual chunk, one whole event of one `data:` line: what the loop below would make of it.
            self._first_line = False
            return [SSEEvent("message", chunk[6:-2] if chunk[5] == 0x20 else chunk[5:-2])]
        events: list[SSEEvent] = []
        if not chunk:
            return events
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
                if not chunk:
                    return events
        if not (self._lines or self._name or self._line.parts) and b"\r" not in chunk and b"\n\n" in chunk:
            self._feed_blocks(chunk, events)
        else:
            self._feed_lines(chunk, events)
        return events

    def _feed_blocks(self, chunk: bytes, events: list[SSEEvent]) -> None:
        """Many events at once (a buffered stream), from a line start with no event in progress and no CR.

        Each piece before a blank line is an event's lines; the usual ones, a single `data: ` line with
        or without an `event: ` line before it, are made into their event here, any other goes
        through `_feed_lines`, which makes the same of it.
        """
        blocks = chunk.split(b"\n\n")
        rest = blocks.pop()
        longest = self._cap + 6
        append = events.append
        for block in blocks:
            if block[:6] == b"data: " and b"\n" not in block and len(block) <= longest:
                self._first_line = False
                append(_new_event(SSEEvent, ("message", block[6:], False)))
                continue
            if block[:7] == b"event: ":
                # The other usual one (Anthropic, the Responses API): an `event: ` line, then one `data: ` line.
                data = block.find(b"\n") + 1
                if block[data : data + 6] == b"data: " and block.find(b"\n", data) < 0 and len(block) - data <= longest:
                    self._first_line = False
                    append(_new_event(SSEEvent, (_event_type(block[7 : data - 1]), block[data + 6 :], False)))
                    continue
            self._feed_lines(block + b"\n\n", events)
        if rest:
            self._feed_lines(rest, events)

    def _feed_lines(self, chunk: bytes, events: list[SSEEvent]) -> None:
        """Line by line: `chunk` is not empty and does not start with the LF of a CRLF the last one cut."""
        lines = chunk.splitlines(keepends=True)  # bytes split only at CR, LF and CRLF
        tail = lines.pop() if lines[-1][-1] not in b"\r\n" else None
        pending = self._line
        for line in lines:
            line = line.rstrip(b"\r\n")  # only the line end: a line holds no other CR or LF
            truncated = False
            if pending.parts:
                pending.add(line)
                line = pending.value()
                truncated = pending.truncated
                pending.clear()
            if self._first_line:
                self._first_line = False
                if line.startswith(_BOM):
                    line = line[3:]
            if line.startswith(b"data:"):
                self._add_data(line[6:] if line.startswith(b"data: ") else line[5:])
                if truncated:
                    self._truncated = True
            elif line:
                self._field(line)
            else:
                self._dispatch(events)
        if tail is not None:
            pending.add(tail)
        else:
            self._skip_lf = chunk[-1] == 0x0D

    def plain_events(self, chunk: bytes) -> int:
        """How many events `chunk` is when it is whole events of one `data: ` line each and this
        reader is between events, else 0. When not 0, the caller may read them itself (`data: `
        up to each blank line) instead of feeding them: they are what `feed` would return.

        Checked with three scans in C, not line by line: no CR; `data: ` at the start, `\n\n` at the
        end, and as many LFs as those and the `\n\ndata: ` between events hold, so no other line
        break; none longer than the cap.
        """
        if not self.between_events() or len(chunk) > self._cap:
            return 0
        if not (chunk.startswith(b"data: ") and chunk.endswith(b"\n\n") and b"\r" not in chunk):
            return 0
        events = chunk.count(b"\n\ndata: ") + 1
        if chunk.count(b"\n") != 2 * events:
            return 0
        self._first_line = False
        return events

    def between_events(self) -> bool:
        """Nothing of an event is pending: the next byte fed starts a line of a new event."""
        return not (self._lines or self._name or self._skip_lf or self._line.parts)

    def close(self) -> list[SSEEvent]:
        """End of stream: the last event, if one was left without its terminating blank line."""
        events = self.feed(b"\n") if self._line.parts else []
        self._dispatch(events)
        return events

    def _field(self, line: bytes) -> None:
        """A line that is not `data:`: a comment, `event:`, or a field to ignore."""
        if line[0] == 0x3A:  # ':' starts a comment
            return
        colon = line.find(b":")
        if colon < 0:
            field, value = line, b""
        else:
            field, value = line[:colon], line[colon + 1 :]
            if value.startswith(b" "):
                value = value[1:]
        if field == b"data":
            self._add_data(value)
        elif field == b"event":
            self._name = value[:256]

    def _add_data(self, value: bytes) -> None:
        lines = self._lines
        self._lines = lines + 1
        if lines == 0 and len(value) <= self._cap:
            self._first = value
            return
        data = self._data
        if self._first is not None:
            data.add(self._first)
            self._first = None
        if lines:
            data.add(b"\n")
        data.add(value)

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._lines:
            name = _event_type(self._name)
            truncated = self._truncated
            if self._first is not None:
                value = self._first
                self._first = None
            else:
                data = self._data
                value = data.value()
                truncated = truncated or data.truncated
                data.clear()
            if truncated:
                self.truncated_events += 1
            events.append(SSEEvent(name, value, truncated))
            self._lines = 0
        self._truncated = False
        self._name = b""


def looks_like_sse(body: bytes) -> bool:
    """A body that is not JSON but starts like an event stream (after any whitespace)."""
    return body.lstrip()[:6].startswith((b"data:", b"event:", b":"))


class SSEStreamParser:
    """What every SSE stream parser shares: framing, and finishing once.

    Subclasses read the events they care about in `_event` and build the result in `_build`.
    """

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._sse = SSEReader(max_event_bytes)
        self._closed = False

    def feed(self, chunk: bytes) -> None:
        if self._closed:
            return
        for event in self._sse.feed(chunk):
            self._event(event)

    def read_whole(self, body: bytes) -> ParsedResponse:
        """The result of a stream handed over in one piece (a mock or a cached response read whole)."""
        self.feed(body)
        return self.finish()

    def finish(self) -> ParsedResponse:
        if not self._closed:
            self._closed = True
            for event in self._sse.close():
                self._event(event)
        return self._build()

    def _event(self, event: SSEEvent) -> None:
        raise NotImplementedError

    def _build(self) -> ParsedResponse:
        raise NotImplementedError
