"""An incremental reader of AWS's binary event-stream framing (`application/vnd.amazon.eventstream`).

Each message: a 12-byte prelude (total length u32, headers length u32, CRC32 of the first 8
bytes), the headers, the payload, and a CRC32 of everything before it; integers big-endian. A
header is a name (u8 length, bytes), a value type (u8) and a value; only string values are kept
(`:message-type`, `:event-type`, `:exception-type`, `:content-type`, ...), the other types are
skipped by their size.

Fed the bytes in chunks split anywhere, `feed` returns the messages completed. Untrusted input
never raises: a prelude whose CRC or lengths are wrong means the framing is lost, and the reader
stops reading (`broken`) rather than resynchronize on guesses; a message whose own CRC or headers
are wrong is skipped. Memory is bounded by `MAX_MESSAGE_BYTES`: a prelude announcing more breaks
the reader instead of buffering.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

PRELUDE_BYTES = 12
MIN_MESSAGE_BYTES = PRELUDE_BYTES + 4
MAX_MESSAGE_BYTES = 24 << 20
"""AWS caps a message at 16 MiB (payload) + 128 KiB (headers); anything above is not a message."""
MAX_HEADERS_BYTES = 128 << 10

_STRING = 7
_FIXED_SIZES = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
"""Header value types of a fixed size: bool true/false, byte, short, int, long, timestamp, uuid."""
_BYTES = 6


class EventMessage(NamedTuple):
    headers: dict[str, str]
    """The headers with a string value."""
    payload: bytes


class EventStreamReader:
    """Feed it chunks; it returns the complete, valid messages."""

    __slots__ = ("_buffer", "broken", "skipped")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.broken = False
        """The framing was lost (bad prelude): everything after is ignored."""
        self.skipped = 0
        """Messages dropped for a bad message CRC or malformed headers."""

    def feed(self, chunk: bytes) -> list[EventMessage]:
        if self.broken:
            return []
        buffer = self._buffer
        buffer += chunk
        messages: list[EventMessage] = []
        start = 0
        end = len(buffer)
        while end - start >= PRELUDE_BYTES:
            total = int.from_bytes(buffer[start : start + 4], "big")
            headers_length = int.from_bytes(buffer[start + 4 : start + 8], "big")
            prelude_crc = int.from_bytes(buffer[start + 8 : start + 12], "big")
            if (
                zlib.crc32(buffer[start : start + 8]) != prelude_crc
                or not MIN_MESSAGE_BYTES <= total <= MAX_MESSAGE_BYTES
                or headers_length > min(total - MIN_MESSAGE_BYTES, MAX_HEADERS_BYTES)
            ):
                self._break()
                return messages
            if end - start < total:
                break
            message = bytes(buffer[start : start + total])
            start += total
            if zlib.crc32(message[:-4]) != int.from_bytes(message[-4:], "big"):
                self.skipped += 1
                continue
            headers = _headers(message[PRELUDE_BYTES : PRELUDE_BYTES + headers_length])
            if headers is None:
                self.skipped += 1
                continue
            messages.append(EventMessage(headers, message[PRELUDE_BYTES + headers_length : -4]))
        if start:
            del buffer[:start]
        return messages

    def _break(self) -> None:
        self.broken = True
        self._buffer = bytearray()


def _headers(raw: bytes) -> dict[str, str] | None:
    """The string-valued headers, or None when the header block is malformed."""
    headers: dict[str, str] = {}
    position = 0
    size = len(raw)
    while position < size:
        name_length = raw[position]
        position += 1
        name_end = position + name_length
        if name_length == 0 or name_end + 1 > size:
            return None
        name = raw[position:name_end]
        kind = raw[name_end]
        position = name_end + 1
        if kind == _STRING or kind == _BYTES:
            if position + 2 > size:
                return None
            length = int.from_bytes(raw[position : position + 2], "big")
            position += 2
            if position + length > size:
                return None
            if kind == _STRING:
                headers[name.decode("utf-8", "replace")] = raw[position : position + length].decode("utf-8", "replace")
            position += length
            continue
        fixed = _FIXED_SIZES.get(kind)
        if fixed is None or position + fixed > size:
            return None
        position += fixed
    return headers
