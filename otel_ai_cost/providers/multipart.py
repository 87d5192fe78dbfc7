"""Small text fields of a multipart/form-data body (e.g. `model`, `n`, `size` of an image edit).

The body is walked from boundary to boundary with `bytes.find`; file parts (images, masks) are
skipped without being read or decoded. Never raises.
"""

from __future__ import annotations

import re

MAX_HEADERS = 8192
"""A part's headers are looked for in at most this many bytes after its boundary."""
MAX_VALUE = 256
MAX_PARTS = 1024
"""Parts looked at: a real form has a few fields and files (gpt-image-1 takes up to 16 images)."""

_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,200})"|([^;\s]{1,200}))', re.IGNORECASE)
_NAME = re.compile(rb'[;\s]name=(?:"([^"]*)"|([^;\s]+))', re.IGNORECASE)
_FILENAME = re.compile(rb"[;\s]filename\*?=", re.IGNORECASE)


def boundary(content_type: str | None, body: bytes) -> bytes | None:
    """The boundary named by the content type, else the one the body starts with."""
    if content_type:
        match = _BOUNDARY.search(content_type)
        if match:
            return (match.group(1) or match.group(2)).encode("latin-1", "replace")
    if body.startswith(b"--"):
        end = body.find(b"\n", 2, 2 + 200)
        if end > 2:
            return body[2:end].rstrip(b"\r")
    return None


def form_fields(body: bytes, content_type: str | None, names: frozenset[str]) -> dict[str, str]:
    """The text value of each form field in `names` that the body has (the first one of a name)."""
    fields: dict[str, str] = {}
    mark = boundary(content_type, body)
    if not mark:
        return fields
    delimiter = b"--" + mark
    position = body.find(delimiter)
    for _ in range(MAX_PARTS):
        if position < 0:
            break
        start = position + len(delimiter)
        if body.startswith(b"--", start):
            break  # the closing delimiter
        following = body.find(delimiter, start)
        end = len(body) if following < 0 else following
        window_end = min(end, start + MAX_HEADERS)  # within the part: a body of tiny parts stays linear
        header_end = body.find(b"\r\n\r\n", start, window_end)
        separator = 4
        if header_end < 0:
            header_end = body.find(b"\n\n", start, window_end)
            separator = 2
            if header_end < 0:
                break
        headers = body[start:header_end]
        named = _NAME.search(headers)
        if named and not _FILENAME.search(headers):
            name = (named.group(1) or named.group(2) or b"").decode("utf-8", "replace")
            if name in names and name not in fields:
                if end - (header_end + separator) <= MAX_VALUE + 2:
                    value = body[header_end + separator : end]
                    if value.endswith(b"\r\n"):
                        value = value[:-2]
                    elif value.endswith(b"\n"):
                        value = value[:-1]
                    fields[name] = value.decode("utf-8", "replace").strip()
        position = following
    return fields
