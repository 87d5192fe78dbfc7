"""A multipart body is walked part by part, each part's headers looked for within the part: a body
of many tiny parts costs what its size does (before, each part searched 8 KiB past its end: about
1 s per MiB of `--b\\n\\n` parts), and at most `MAX_PARTS` parts are looked at."""

from __future__ import annotations

from otel_ai_cost.providers.multipart import MAX_PARTS, form_fields

CONTENT_TYPE = "multipart/form-data; boundary=b"
NAMES = frozenset({"model", "size"})


def field(name: str, value: str) -> bytes:
    return f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def test_a_field_after_tiny_parts_with_lf_line_ends_is_read() -> None:
    body = b"--b\n\n" * 100 + field("model", "gpt-image-1") + b"--b--\r\n"
    assert form_fields(body, CONTENT_TYPE, NAMES) == {"model": "gpt-image-1"}


def test_at_most_max_parts_are_looked_at() -> None:
    padding = field("prompt", "p") * (MAX_PARTS - 1)
    within = padding + field("model", "gpt-image-1") + b"--b--\r\n"
    beyond = padding + field("prompt", "p") + field("model", "gpt-image-1") + b"--b--\r\n"
    assert form_fields(within, CONTENT_TYPE, NAMES) == {"model": "gpt-image-1"}
    assert form_fields(beyond, CONTENT_TYPE, NAMES) == {}
