"""`_json.load` reads bytes starting with `{` with the C scanner directly: it must read exactly the
objects `json.loads` reads, and refuse what it refuses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_ai_cost.providers import _json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=12,
)
NEAR_MISSES = [
    b"{",
    b"{}",
    b'{"a":1}   \r\n\t',
    b'{"a":1} x',
    b'{"a":1}{"b":2}',
    b'{"a":1}\x00',
    b'{"a":1}\xc2\xa0',  # a no-break space after the object: not JSON whitespace
    b'{"a":"\xed\xa0\x80"}',  # an encoded surrogate
    b'{"a":"\xff"}',  # not UTF-8
    '{"a":"é"}'.encode("utf-16-le"),  # `{` then NUL: UTF-16
    b'{"a":NaN}',
    b"{" * 100_000 + b"}" * 100_000,  # too deep
    b'{"a":1,}',
    b"[1, 2]",
    b'\xef\xbb\xbf{"a":1}',
]


def reference(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


@settings(max_examples=300)
@given(json_values, st.sampled_from(["", " ", "\n", " x", "}", "\x00"]), st.booleans())
def test_reads_what_json_loads_reads(value: Any, after: str, spaced: bool) -> None:
    body = (json.dumps({"v": value}, indent=1 if spaced else None) + after).encode("utf-8", "surrogatepass")
    assert _json.load(body) == reference(body)


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_reads_what_json_loads_reads_of_any_bytes_after_a_brace(tail: bytes) -> None:
    body = b"{" + tail
    assert _json.load(body) == reference(body)


def test_near_misses() -> None:
    for body in NEAR_MISSES:
        assert _json.load(body) == reference(body), body[:40]
    assert _json.load(b'{"a":1}   \r\n\t') == {"a": 1}
    assert _json.load(b'{"a":1} x') is None
