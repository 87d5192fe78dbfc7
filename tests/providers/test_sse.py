"""The SSE reader against the HTML standard's event-stream rules, any chunking, bounded memory."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from wire_testkit import chunkings

from otel_ai_cost.providers.sse import HEAD_BYTES, TAIL_BYTES, SSEEvent, SSEReader


def read(chunks: list[bytes], max_event_bytes: int = 1 << 20) -> list[SSEEvent]:
    reader = SSEReader(max_event_bytes)
    events = [event for chunk in chunks for event in reader.feed(chunk)]
    return events + reader.close()


def test_spec_examples() -> None:
    # from the HTML standard, 9.2.5 / 9.2.6
    assert read([b"data: YHOO\ndata: +2\ndata: 10\n\n"]) == [SSEEvent("message", b"YHOO\n+2\n10")]
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    assert [e.data for e in read([stream])] == [b"first event", b"second event", b" third event"]
    assert [e.data for e in read([b"data\n\ndata\ndata\n\n"])] == [b"", b"\n"]
    assert read([b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n"]) == [
        SSEEvent("add", b"73857293"),
        SSEEvent("remove", b"2153"),
    ]


def test_event_name_and_fields_reset_after_each_event() -> None:
    stream = b"event: a\nretry: 10\nunknown: x\ndata: 1\n\ndata: 2\n\nevent: only-a-name\n\ndata: 3\n\n"
    assert read([stream]) == [SSEEvent("a", b"1"), SSEEvent("message", b"2"), SSEEvent("message", b"3")]


def test_line_endings_bom_and_every_chunking() -> None:
    stream = b"\xef\xbb\xbf: hello\r\nevent: x\r\ndata: a\rdata: b\n\r\ndata: c\r\n\r\n:\n\ndata: [DONE]\n\n"
    expected = [SSEEvent("x", b"a\nb"), SSEEvent("message", b"c"), SSEEvent("message", b"[DONE]")]
    for chunks in chunkings(stream):
        assert read(chunks) == expected, [len(c) for c in chunks]


def test_cr_then_lf_in_the_next_chunk_is_one_line_end() -> None:
    # a CRLF split between chunks must not end the event early (an empty line would dispatch it)
    assert read([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]) == [SSEEvent("message", b"a\nb")]


def test_last_event_without_its_blank_line_is_still_delivered_on_close() -> None:
    assert read([b'data: 1\n\ndata: {"usage": 3}']) == [SSEEvent("message", b"1"), SSEEvent("message", b'{"usage": 3}')]
    assert read([b"data: 1\n\n"]) == [SSEEvent("message", b"1")]
    assert read([b""]) == [] and read([]) == []


def test_an_oversized_event_keeps_its_head_and_tail_only() -> None:
    payload = b'{"type":"big","text":"' + b"x" * (3 << 20) + b'","usage":{"n":1}}'
    stream = b"data: first\n\ndata: " + payload + b"\n\ndata: after\n\n"
    for size in (len(stream), 1 << 16, 1000):
        reader = SSEReader()
        events = []
        for i in range(0, len(stream), size):
            events += reader.feed(stream[i : i + size])
            # memory stays bounded while the big line arrives
            assert reader._line.size + reader._data.size <= (1 << 20) + 2 * TAIL_BYTES + size
        events += reader.close()
        assert [(e.data[:10], e.truncated) for e in events] == [
            (b"first", False),
            (b'{"type":"b', True),
            (b"after", False),
        ]
        big = events[1].data
        # the head is cut from the line ("data: " included) or from the data, by how it arrived
        assert HEAD_BYTES + TAIL_BYTES - len(b"data: ") <= len(big) <= HEAD_BYTES + TAIL_BYTES
        assert big.startswith(payload[: HEAD_BYTES - 6]) and big.endswith(payload[-TAIL_BYTES:])
        assert reader.truncated_events == 1


def test_many_data_lines_past_the_cap() -> None:
    stream = b"".join(b"data: " + b"y" * 99 + b"\n" for _ in range(200)) + b"\n"
    (event,) = read([stream], max_event_bytes=4096)
    assert event.truncated and len(event.data) <= 4096 and event.data.endswith(b"y" * 99)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_any_bytes_any_chunking_never_raises_and_chunking_does_not_matter(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert read(chunks, 64) == read([data], 64)


_LINES = st.one_of(
    st.binary(max_size=30).map(lambda b: b"data:" + b.replace(b"\n", b"").replace(b"\r", b"")),
    st.binary(max_size=30).map(lambda b: b"data: " + b.replace(b"\n", b"").replace(b"\r", b"")),
    st.sampled_from([b"event: delta", b": keep-alive", b"", b"id: 7", b"data", b"\xef\xbb\xbfdata: x"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_LINES, st.sampled_from([b"\n", b"\r\n", b"\r"])), max_size=12))
def test_one_event_per_chunk_reads_as_byte_by_byte(lines: list[tuple[bytes, bytes]]) -> None:
    # Servers flush one `data: ...\n\n` per chunk; the reader's shortcut for such chunks changes nothing.
    body = b"".join(line + end for line, end in lines)
    aligned = [body[start:end] for start, end in _event_bounds(body)]
    assert read(aligned, 64) == read([bytes([b]) for b in body], 64)


def _event_bounds(body: bytes) -> list[tuple[int, int]]:
    bounds, start = [], 0
    while (end := body.find(b"\n\n", start)) >= 0:
        bounds.append((start, end + 2))
        start = end + 2
    return [*bounds, (start, len(body))] if start < len(body) else bounds


_LONG_DATA = st.binary(min_size=60, max_size=90).map(lambda b: b"data: " + b.replace(b"\n", b"").replace(b"\r", b""))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.one_of(_LINES, _LONG_DATA), st.sampled_from([b"\n", b"\n", b"\r\n"])), max_size=16),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=3),
)
def test_many_events_in_one_chunk_read_as_byte_by_byte(lines: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    # A buffered stream is read many events at a time; the reader's shortcut for that changes nothing,
    # events over the cap (64 here) included.
    body = b"".join(line + end for line, end in lines)
    points = sorted({min(c, len(body)) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    byte_by_byte = _comparable(read([bytes([b]) for b in body], 64))
    assert _comparable(read(chunks, 64)) == byte_by_byte
    assert _comparable(read([body], 64)) == byte_by_byte


def _one_line(prefix: bytes, min_size: int = 0, max_size: int = 300) -> st.SearchStrategy[bytes]:
    content = st.binary(min_size=min_size, max_size=max_size)
    return content.map(lambda b: prefix + b.replace(b"\n", b"").replace(b"\r", b""))


_NAMED_EVENT = st.tuples(
    st.one_of(
        _one_line(b"event: "),
        _one_line(b"event:"),
        _one_line(b"event: ", min_size=250, max_size=300),
        st.sampled_from([b"event: ", b"event: message_delta"]),
    ),
    st.lists(
        st.one_of(
            _one_line(b"data: "),
            _one_line(b"data:"),
            _one_line(b"data: ", min_size=480, max_size=520),
            st.integers(min_value=398, max_value=402).map(lambda size: b"data: " + b"x" * size),  # at the cap
        ),
        min_size=1,
        max_size=2,
    ),
).map(lambda event: b"\n".join([event[0], *event[1]]) + b"\n\n")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_NAMED_EVENT, _NAMED_EVENT, _LINES.map(lambda line: line + b"\n")), max_size=12))
@example([b"event: at\ndata: " + b"x" * 400 + b"\n\n", b"event: over\ndata: " + b"x" * 401 + b"\n\n"])
def test_named_events_in_one_chunk_read_as_byte_by_byte(pieces: list[bytes]) -> None:
    # Anthropic and the Responses API send `event: name` then one `data: ` line: the reader's shortcut
    # for such events read many at a time changes nothing, whatever the name (empty, over the 256
    # bytes kept, not UTF-8), data over the cap (400 here: a line arriving in pieces is kept up to
    # that, so names stay under it) and other lines around them included.
    body = b"".join(pieces)
    assert _comparable(read([body], 400)) == _comparable(read([bytes([b]) for b in body], 400))


def _comparable(events: list[SSEEvent]) -> list[SSEEvent]:
    """Events with truncated data reduced to the tail the reader keeps: the head of a line cut in
    transit is that of the line, `data: ` included, not of its data."""
    return [event._replace(data=event.data[-32:]) if event.truncated else event for event in events]
