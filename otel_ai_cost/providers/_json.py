"""Reading untrusted JSON: one `json.loads` (the base64 payloads of a large body jumped over, not
decoded), then typed accessors that never raise.

A wrong-typed value reads as missing: a token count must be a non-negative integer (an integral
float is accepted, a bool or a string is not) no larger than `MAX_TOKENS`; a name must be a
non-empty string.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

MAX_TOKENS = 1_000_000_000
"""Above this a token count is not believable for one request and reads as missing."""

MAX_NAME = 256
"""Model names, ids and finish reasons are cut to this many characters."""


_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The C scanner `json.loads` ends in, without the Python steps before it (a response is parsed on
the caller's time)."""


_PAYLOAD = re.compile(rb'"(?:data|url|image_url|file_data|b64_json|embedding|result)"\s*:\s*"')
"""A key whose string value no parser here reads, with its colon and the value's opening quote: the
base64 of images, audio, files and embeddings, in requests (`image_url`, Anthropic's and Gemini's
`data`) and responses (`b64_json`, `embedding`, a Responses image's `result`)."""
SKIM_ABOVE = 4096
"""Bodies larger than this have their payload strings jumped over (below, the search costs more
than it saves)."""


def load(body: bytes) -> dict[str, Any] | None:
    """The JSON object in `body`, or None when it is not one (empty, not JSON, a list, too deep).

    In a body over `SKIM_ABOVE` bytes, the string values of payload keys (`_PAYLOAD`) read as "" and
    are neither decoded nor checked: the megabytes of an image are jumped over in C, not parsed.
    """
    if not body:
        return None
    if len(body) > SKIM_ABOVE:
        body = _without_payloads(body)
    try:
        if body[0] == 0x7B and body[1:2] != b"\x00":
            # What `json.loads` makes of bytes starting with `{` (UTF-8: a NUL next would make it UTF-16).
            text = body.decode("utf-8", "surrogatepass")
            value, end = _scan(text, 0)
            if end != len(text) and text[end:].strip(" \t\n\r"):
                return None  # more than whitespace after the object
        else:
            value = json.loads(body)
    except (ValueError, RecursionError, TypeError, StopIteration):
        return None
    return value if isinstance(value, dict) else None


def _without_payloads(body: bytes) -> bytes:
    """`body` with the string values of payload keys emptied (those with an escape in them are kept:
    their first quote may not end them)."""
    pieces: list[bytes] = []
    cursor = 0
    match = _PAYLOAD.search(body)
    while match is not None:
        start = match.end()
        end = body.find(b'"', start)
        if end < 0:
            break
        if body.find(b"\\", start, end) < 0:
            pieces.append(body[cursor:start])
            cursor = end
        match = _PAYLOAD.search(body, end + 1)
    if not pieces:
        return body
    pieces.append(body[cursor:])
    return b"".join(pieces)


def obj(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def tokens(value: object) -> int | None:
    """A token count, or None when `value` is not one."""
    if type(value) is int:
        return value if 0 <= value <= MAX_TOKENS else None
    if type(value) is float and value.is_integer() and 0.0 <= value <= MAX_TOKENS:
        return int(value)
    return None


def count(value: object, default: int, maximum: int = 10_000) -> int:
    """A small positive count such as an image request's `n`; `default` when absent or invalid."""
    if type(value) is int and 1 <= value <= maximum:
        return value
    if (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) <= 6
        and 1 <= int(value) <= maximum
    ):
        return int(value)
    return default


def text(value: object) -> str | None:
    """A non-empty string (cut to `MAX_NAME` characters), else None."""
    if isinstance(value, str) and value:
        return value if len(value) <= MAX_NAME else value[:MAX_NAME]
    return None


def amount(value: object, maximum: float) -> float | None:
    """A non-negative number (int or float, not a bool) no larger than `maximum`, else None."""
    if type(value) is int or type(value) is float:
        return float(value) if 0 <= value <= maximum else None
    return None


_OBJECT_VALUE = re.compile(r"\s*:\s*\{", re.ASCII)
_DECODER = json.JSONDecoder()


def last_object(raw: bytes, key: str, tries: int = 4) -> dict[str, Any] | None:
    """The JSON object that is the value of the last `key` (quoted, e.g. '"usage"') in `raw`, of the
    last `tries` occurrences, read without parsing the rest: what the head and tail of an event too
    large to keep whole still tell (see `sse`). A tail filled with keys costs no more than any other."""
    text = raw.decode("utf-8", "replace")
    end = len(text)
    for _ in range(tries):
        at = text.rfind(key, 0, end)
        if at < 0:
            return None
        match = _OBJECT_VALUE.match(text, at + len(key))
        if match is not None:
            try:
                value, _ = _DECODER.raw_decode(text, match.end() - 1)
            except (ValueError, RecursionError):
                value = None
            if isinstance(value, dict):
                return value
        end = at
    return None


def first_string(raw: bytes, key: str) -> str | None:
    """The first string value of `key` in `raw`, read without parsing it (see `last_object`)."""
    match = _string_field(key).search(raw)
    return match.group(1).decode("utf-8", "replace") if match else None


def last_string(raw: bytes, key: str) -> str | None:
    """The last string value of `key` in `raw`, read without parsing it (see `last_object`)."""
    found = _string_field(key).findall(raw)
    return found[-1].decode("utf-8", "replace") if found else None


@functools.cache
def _string_field(key: str) -> re.Pattern[bytes]:
    """`"key": "value"` with a value of at most `MAX_NAME` plain characters (no quote or escape)."""
    return re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*"([^"\\]{1,%d})"' % MAX_NAME)
