"""Undo Content-Encoding on streamed bytes the caller reads raw from the transport.

httpx decodes for the caller; the tee sees the bytes before that, so it decodes its own copy.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

Decoder = Callable[[bytes], bytes]


def make_decoder(content_encoding: str | None) -> Decoder | None:
    """A chunk decoder for the header value, the identity for none, None when we cannot decode it."""
    if not content_encoding:
        return _identity
    encodings = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
    encodings = [e for e in encodings if e != "identity"]
    if not encodings:
        return _identity
    if len(encodings) > 1:
        return None
    encoding = encodings[0]
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress
    if encoding == "deflate":
        return _Deflate().decode
    if encoding == "br":
        try:
            import brotli  # type: ignore[import-not-found]
        except ImportError:
            return None
        return brotli.Decompressor().process  # type: ignore[no-any-return]
    return None


def _identity(chunk: bytes) -> bytes:
    return chunk


class _Deflate:
    """ "deflate" is zlib-wrapped by the spec but raw deflate in practice; accept both, as httpx does."""

    def __init__(self) -> None:
        self._first = True
        self._decompressor = zlib.decompressobj()

    def decode(self, chunk: bytes) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._decompressor.decompress(chunk)
            except zlib.error:
                self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._decompressor.decompress(chunk)
