"""Undo Content-Encoding on streamed bytes the caller reads raw from the transport.

httpx decodes for the caller; the tee sees the bytes before that, so it decodes its own copy. The
bytes come from the network: a few KiB of gzip can inflate to a thousand times that, so what is
decoded is handed on in pieces of at most `DECODED_PIECE` bytes, never whole, and bytes that are
not in their declared encoding raise `Undecodable` (bad input, not an error of ours).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

DECODED_PIECE = 1024 * 1024
"""The most decoded bytes held at once per chunk (gzip, deflate; brotli's pieces reach about twice)."""

Decoder = Callable[[bytes], Iterator[bytes]]
"""Encoded bytes in, decoded pieces out (each at most `DECODED_PIECE`); raises `Undecodable`."""


class Undecodable(Exception):
    """The bytes are not in the encoding their Content-Encoding header names."""


def make_decoder(content_encoding: str | None) -> Decoder | None:
    """A chunk decoder for the header value, the identity for none, None when we cannot decode it."""
    if not content_encoding:
        return _identity
    encodings = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
    encodings = [e for e in encodings if e != "identity"]
    if not encodings:
        return _identity
    if len(encodings) > 1:
        return None
    encoding = encodings[0]
    if encoding in ("gzip", "x-gzip"):
        return _Inflate(zlib.MAX_WBITS | 16).pieces
    if encoding == "deflate":
        return _Deflate().pieces
    if encoding == "br":
        try:
            import brotli  # type: ignore[import-untyped, import-not-found, unused-ignore]
        except ImportError:
            return None
        return _Brotli(brotli).pieces
    return None


def _identity(chunk: bytes) -> Iterator[bytes]:
    return iter((chunk,))


class _Inflate:
    def __init__(self, wbits: int) -> None:
        self._decompressor = zlib.decompressobj(wbits)

    def pieces(self, chunk: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        try:
            piece = decompressor.decompress(chunk, DECODED_PIECE)
            # A full piece may leave output inside zlib even when all the input was taken.
            while piece and (len(piece) == DECODED_PIECE or decompressor.unconsumed_tail):
                yield piece
                piece = decompressor.decompress(decompressor.unconsumed_tail, DECODED_PIECE)
        except zlib.error as exc:
            raise Undecodable(str(exc)) from exc
        if piece:
            yield piece


class _Deflate(_Inflate):
    """ "deflate" is zlib-wrapped by the spec but raw deflate in practice; accept both, as httpx
    does. The first two bytes decide: a zlib header, or raw."""

    def __init__(self) -> None:
        super().__init__(zlib.MAX_WBITS)
        self._head: bytes | None = b""
        """The first bytes, until there are two; None once decided."""

    def pieces(self, chunk: bytes) -> Iterator[bytes]:
        if self._head is not None:
            chunk = self._head + chunk
            if len(chunk) < 2:
                self._head = chunk
                return iter(())
            self._head = None
            try:
                zlib.decompressobj(zlib.MAX_WBITS).decompress(chunk[:2])
            except zlib.error:
                self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
        return super().pieces(chunk)


class _Brotli:
    def __init__(self, brotli: Any) -> None:
        self._decompressor = brotli.Decompressor()
        self._error: type[Exception] = brotli.error
        self._bounded = hasattr(self._decompressor, "can_accept_more_data")  # brotli >= 1.2

    def pieces(self, chunk: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        try:
            if not self._bounded:
                yield decompressor.process(chunk)
                return
            # The output buffer stops growing past the limit (so a piece is at most about twice it).
            # Output may be left inside even when all the input was taken, as with zlib.
            piece = decompressor.process(chunk, output_buffer_limit=DECODED_PIECE)
            while piece and (len(piece) >= DECODED_PIECE or not decompressor.can_accept_more_data()):
                yield piece
                piece = decompressor.process(b"", output_buffer_limit=DECODED_PIECE)
        except self._error as exc:
            raise Undecodable(str(exc)) from exc
        if piece:
            yield piece
