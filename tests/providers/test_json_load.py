"""`_json.load` reads bytes starting with `{` with the C scanner directly: it must read exactly the
objects `json.loads` reads, and refuse what it refuses. In a body over 4 KiB, the string values of
payload keys (base64 images, embeddings) read as "" instead."""

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
    if len(body) <= _json.SKIM_ABOVE:
        assert _json.load(body) == reference(body)


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_reads_what_json_loads_reads_of_any_bytes_after_a_brace(tail: bytes) -> None:
    body = b"{" + tail
    assert _json.load(body) == reference(body)


def test_near_misses() -> None:
    for body in NEAR_MISSES:
        if len(body) <= _json.SKIM_ABOVE:
            assert _json.load(body) == reference(body), body[:40]
    assert _json.load(b'{"a":1}   \r\n\t') == {"a": 1}
    assert _json.load(b'{"a":1} x') is None


PAYLOAD_KEYS = ["data", "url", "image_url", "file_data", "b64_json", "embedding", "result"]
BASE64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=:,", max_size=3000)


def emptied(value: Any) -> Any:
    """`value` with the string values of payload keys made "" (as none of these holds an escape)."""
    if isinstance(value, dict):
        return {k: "" if k in PAYLOAD_KEYS and isinstance(v, str) else emptied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [emptied(item) for item in value]
    return value


document = st.recursive(
    st.none() | st.integers() | BASE64,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from([*PAYLOAD_KEYS, "model", "usage", "object"]), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=300)
@given(document, st.booleans())
def test_a_large_body_reads_as_json_loads_with_payload_strings_emptied(value: Any, spaced: bool) -> None:
    whole = {"padding": "x" * _json.SKIM_ABOVE, "v": value, "usage": {"total_tokens": 9}}
    body = json.dumps(whole, indent=1 if spaced else None).encode()
    assert _json.load(body) == emptied(whole)


def test_a_payload_string_with_an_escape_is_read_whole() -> None:
    whole = {"padding": "x" * _json.SKIM_ABOVE, "data": 'a "quoted" \\ word', "url": "line\nbreak", "result": "ok"}
    body = json.dumps(whole).encode()
    assert _json.load(body) == {**whole, "result": ""}


def test_payload_names_as_values_or_inside_strings_are_not_keys() -> None:
    whole = {
        "object": "embedding",
        "note": 'text with "data": "not a payload" inside',
        "data": [{"b64_json": "QUFB" * 2000, "revised_prompt": "a cat"}],
    }
    body = json.dumps(whole).encode()
    assert _json.load(body) == {**whole, "data": [{"b64_json": "", "revised_prompt": "a cat"}]}


def test_a_gpt_image_response_of_megabytes_is_read_without_its_image() -> None:
    """gpt-image-1 answers with base64 images; only the usage beside them is wanted."""
    usage = {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210}
    body = json.dumps({"created": 1, "data": [{"b64_json": "iVBO" * 750_000}], "usage": usage}).encode()
    assert _json.load(body) == {"created": 1, "data": [{"b64_json": ""}], "usage": usage}


@settings(max_examples=200)
@given(st.binary(max_size=200), st.sampled_from(PAYLOAD_KEYS), st.binary(max_size=60))
def test_any_large_body_is_read_without_an_error(before: bytes, key: str, after: bytes) -> None:
    body = b"{" + before + b'"' + key.encode() + b'": "' + after + b"x" * _json.SKIM_ABOVE
    assert _json.load(body) is None or isinstance(_json.load(body), dict)  # and never raises
