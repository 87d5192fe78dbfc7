"""The tee's own Content-Encoding decoding: same bytes as the encoder's input at any chunking,
bounded pieces however much a chunk inflates, and `Undecodable` for bytes not in their encoding."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_ai_cost.transports import decoding
from otel_ai_cost.transports.decoding import DECODED_PIECE, Undecodable, make_decoder


def gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    return compressor.compress(data) + compressor.flush()


def zlib_wrapped(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip),
    "x-gzip": ("x-gzip", gzip),
    "deflate (zlib, as the spec says)": ("deflate", zlib_wrapped),
    "deflate (raw, as servers send it)": ("deflate", raw_deflate),
    "br": ("br", brotli.compress),
}


def decode(header: str, chunks: list[bytes]) -> list[bytes]:
    decoder = make_decoder(header)
    assert decoder is not None
    return [piece for chunk in chunks for piece in decoder(chunk)]


@pytest.mark.parametrize("encoding", ENCODERS)
@settings(max_examples=40, deadline=None)
@given(body=st.binary(max_size=3000), cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=8))
def test_any_chunking_decodes_to_the_body(encoding: str, body: bytes, cuts: list[int]) -> None:
    header, encode = ENCODERS[encoding]
    encoded = encode(body)
    bounds = sorted({0, len(encoded), *(c % (len(encoded) + 1) for c in cuts)})
    chunks = [encoded[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert b"".join(decode(header, chunks)) == body


@pytest.mark.parametrize("encoding", ENCODERS)
@settings(max_examples=40, deadline=None)
@given(
    body=st.binary(max_size=2000) | st.builds(bytes.__mul__, st.binary(min_size=1, max_size=9), st.integers(1, 400)),
    limit=st.integers(min_value=1, max_value=64),
)
def test_small_pieces_lose_nothing(encoding: str, body: bytes, limit: int) -> None:
    """With pieces of a few bytes, output is often left inside the decompressor after all the input
    was taken: it must still come out."""
    header, encode = ENCODERS[encoding]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(decoding, "DECODED_PIECE", limit)
        pieces = decode(header, [encode(body)])
    assert b"".join(pieces) == body
    if header != "br":  # brotli's buffer starts larger than a few bytes (its bound: the bomb test)
        assert all(len(piece) <= limit for piece in pieces)


@pytest.mark.parametrize("encoding", ENCODERS)
def test_a_bomb_is_decoded_in_bounded_pieces(encoding: str) -> None:
    """64 MiB of one byte compress to at most 64 KiB (gzip, 1032:1) or 23 bytes (brotli): one chunk
    of it is handed on in pieces of at most 1 MiB (brotli's buffer doubles past its limit: 2 MiB),
    and nothing is lost."""
    header, encode = ENCODERS[encoding]
    body = b"x" * (64 << 20)
    encoded = encode(body)
    assert len(encoded) <= 70_000
    digest, total, largest = hashlib.sha256(), 0, 0
    decoder = make_decoder(header)
    assert decoder is not None
    for piece in decoder(encoded):
        digest.update(piece)
        total += len(piece)
        largest = max(largest, len(piece))
    assert total == len(body)
    assert digest.digest() == hashlib.sha256(body).digest()
    assert largest <= (2 if header == "br" else 1) * DECODED_PIECE


@pytest.mark.parametrize(
    ("header", "chunks"),
    [
        ("gzip", [b"data: {} plain text, not gzip\n\n"]),
        ("gzip", [gzip(b"data: one\n\n")[:12], b"garbage that breaks the deflate stream" * 3]),
        ("deflate", [zlib_wrapped(b"")[:2], b"\x07 a block of the reserved type 3"]),
        ("br", [b"not brotli either"]),
    ],
    ids=["gzip header wrong", "gzip broken mid-stream", "deflate broken mid-stream", "br wrong"],
)
def test_bytes_not_in_their_encoding_are_undecodable(header: str, chunks: list[bytes]) -> None:
    with pytest.raises(Undecodable):
        decode(header, chunks)


@pytest.mark.parametrize(
    ("header", "decodable"),
    [
        (None, True),
        ("", True),
        ("identity", True),
        (" GZIP ", True),
        ("gzip, identity", True),
        ("gzip, br", False),
        ("zstd", False),
        ("compress", False),
    ],
)
def test_which_encodings_are_decoded(header: str | None, decodable: bool) -> None:
    decoder = make_decoder(header)
    assert (decoder is not None) == decodable
    if decodable and header in (None, "", "identity"):
        assert decoder is not None and list(decoder(b"as it is")) == [b"as it is"]
