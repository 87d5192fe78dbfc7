"""The OpenAI stream parser's two shortcuts over a buffer of whole events (`OpenAIStreamParser.feed`):
whatever the events hold, they give what reading the events one at a time gives.

- One scan: a buffer of plain `data:` events is searched once for the events worth parsing.
- Ends only: when the last events hold a usage object, a one-choice stream is read at its start and
  its end, and the events between are not read. The result is the same for any stream of chat
  chunks of one choice. The count of content deltas (the output estimate of a stream without usage)
  is not needed then, and is not counted.

The reference is the same stream fed a byte at a time (and cut inside its first event), which
takes neither shortcut: each piece leaves the SSE reader inside an event. Streams may start with a
UTF-8 BOM and keep-alive comments (which the SSE reader drops), and the first events may lack the
model (Azure's) or say a service tier the last ones do not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.providers.openai import OpenAIProtocol
from otel_ai_cost.providers.openai_stream import OpenAIStreamParser

PROTOCOL = OpenAIProtocol()
FACTS = RequestFacts(provider="openai", operation="chat", request_model="gpt-4o-mini", stream=True)
MANY_CHOICES = RequestFacts(provider="openai", operation="chat", request_model="gpt-4o-mini", stream=True, choices=3)
"""`n=3`: every event is read (one scan)."""

# Text that looks like what the one-scan path searches for, as content (escaped by JSON) and as keys.
TRICKY_TEXT = [
    "",
    "plain words",
    '"usage":{"prompt_tokens":9}',
    '"finish_reason":"stop"',
    "data: [DONE]",
    "\n\ndata: [DONE]\n\n",
    "\\",
    '\\"usage\\":{',
    "event: response.completed",
    '{"choices":[]',  # not JSON, but read for the model as a chunk is
]

text = st.sampled_from(TRICKY_TEXT) | st.text(max_size=12)
usage = st.fixed_dictionaries(
    {"prompt_tokens": st.integers(0, 5000), "completion_tokens": st.integers(0, 5000)},
    optional={"prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(0, 100)})},
)


@st.composite
def chunk(draw: st.DrawFn, one_choice: bool = False) -> Any:
    """One event of a chat stream, or something else a server or proxy might put in one; with
    `one_choice`, chat chunks of choice 0 (and junk)."""
    kinds = ["delta", "delta", "delta", "finish", "usage", "groq", "done", "junk"]
    kind = draw(st.sampled_from(kinds if one_choice else [*kinds, "typed"]))
    if kind == "done":
        return "[DONE]"
    if kind == "junk":
        return draw(text)
    if kind == "typed":
        return {"type": draw(st.sampled_from(["response.created", "response.completed"])), "response": {}}
    choices = [
        {
            "index": index,
            "delta": {"content": draw(text)},
            "finish_reason": draw(st.sampled_from(["stop", "length"])) if kind == "finish" else None,
        }
        for index in range(draw(st.integers(0, 1 if one_choice else 2)))
    ]
    event: dict[str, Any] = {"id": "chatcmpl-1", "model": draw(st.sampled_from(["gpt-4o-mini", "gpt-4o", ""]))}
    tier = draw(st.sampled_from([None, None, "default", "flex"]))
    if tier is not None and kind == "delta":  # the first events' (the last ones say the tier of those between)
        event["service_tier"] = tier
    event["choices"] = choices
    event["usage"] = draw(usage) if kind == "usage" else None
    if kind == "groq":
        event["x_groq"] = {"usage": draw(usage)}
    if draw(st.booleans()):
        event[draw(text)] = draw(text)  # an extra key, perhaps one of the searched names
    return event


LEADING = [b"\xef\xbb\xbf", b": ping\n\n", b":\n\n", b"id: 1\n\n"]
"""What may come before a stream's first event: a BOM (first only), keep-alive comments, a lone field."""
leading = st.tuples(st.booleans(), st.lists(st.sampled_from(LEADING[1:]), max_size=4)).map(
    lambda drawn: (LEADING[0] if drawn[0] else b"") + b"".join(drawn[1])
)


def stream_of(events: list[Any], spaced: bool, start: bytes = b"") -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    return start + b"".join(
        b"data: "
        + (event if isinstance(event, str) else json.dumps(event, separators=separators)).encode("utf-8", "replace")
        + b"\n\n"
        for event in events
        if not (isinstance(event, str) and "\n" in event)  # a raw LF in data would make it two lines
    )


def parse(pieces: list[bytes], facts: RequestFacts = MANY_CHOICES) -> tuple[ParsedResponse, int]:
    parser = PROTOCOL.stream_parser(facts)
    for piece in pieces:
        parser.feed(piece)
    parsed = parser.finish()
    return parsed, parsed.content_events


def buffers_of(stream: bytes, buffers: int) -> list[bytes]:
    """The tee hands over the whole stream, or several buffers of whole events."""
    ends = [index for index in range(len(stream)) if stream.startswith(b"\n\n", index)]
    cuts = sorted({ends[(k * len(ends)) // (buffers + 1)] + 2 for k in range(1, buffers + 1)} if ends else set())
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(chunk(), min_size=1, max_size=12), st.booleans(), st.integers(0, 3), leading)
def test_one_scan_reads_what_one_event_at_a_time_reads(
    events: list[Any], spaced: bool, buffers: int, start: bytes
) -> None:
    stream = stream_of(events, spaced, start)
    one_at_a_time = parse([stream[i : i + 1] for i in range(len(stream))])
    assert parse(buffers_of(stream, buffers)) == one_at_a_time
    assert parse([stream]) == one_at_a_time


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(chunk(one_choice=True), min_size=1, max_size=12), st.booleans(), st.integers(0, 3), leading)
def test_reading_the_ends_of_a_one_choice_stream_reads_what_every_event_says(
    events: list[Any], spaced: bool, buffers: int, start: bytes
) -> None:
    stream = stream_of(events, spaced, start)
    reference, reference_content = parse([stream[i : i + 1] for i in range(len(stream))], FACTS)
    for pieces in (buffers_of(stream, buffers), [stream]):
        parsed, content = parse(pieces, FACTS)
        assert parsed == reference
        if not parsed.usage_found:
            assert content == reference_content


def bench_stream() -> bytes:
    """A 50-chunk stream as api.openai.com sends it: model, finish reason, usage and 48 content deltas."""
    deltas = [
        {"id": "c", "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "delta": {"content": f" w{i}"}}]}
        for i in range(48)
    ]
    finish = {"id": "c", "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "finish_reason": "stop"}]}
    last = {"id": "c", "model": "gpt-4o-mini-2024-07-18", "choices": [], "usage": {"prompt_tokens": 1000}}
    return stream_of([*deltas, finish, last, "[DONE]"], spaced=False)


def test_the_bench_stream_takes_the_one_scan_path_and_agrees() -> None:
    stream = bench_stream()
    parser = PROTOCOL.stream_parser(MANY_CHOICES)
    assert parser._sse.plain_events(stream)  # the path under test is taken for this stream
    whole, content = parse([stream])
    assert (whole, content) == parse([stream[i : i + 1] for i in range(len(stream))])
    assert content == 47  # the first delta is parsed for the model and id, the other 47 are counted
    assert whole.usage.input_tokens == 1000
    assert whole.finish_reasons == ("stop",)


def read_pieces(monkeypatch: pytest.MonkeyPatch, stream: bytes) -> tuple[ParsedResponse, list[bytes]]:
    """The result of the whole stream, and the pieces of it the parser read event by event."""
    read: list[bytes] = []
    every_event = OpenAIStreamParser._read_events

    def read_events(parser: OpenAIStreamParser, chunk: bytes) -> None:
        read.append(chunk)
        every_event(parser, chunk)

    with monkeypatch.context() as patched:
        patched.setattr(OpenAIStreamParser, "_read_events", read_events)
        parsed, _ = parse([stream], FACTS)
    assert parsed == parse([stream[i : i + 1] for i in range(len(stream))], FACTS)[0]
    return parsed, read


def events_of(stream: bytes) -> list[bytes]:
    return [event + b"\n\n" for event in stream.split(b"\n\n")[:-1]]


def test_one_choice_bench_stream_is_read_at_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = bench_stream()
    whole, read = read_pieces(monkeypatch, stream)
    # The last three events: finish, usage, [DONE]; the model and id are in them.
    assert read == [b"".join(events_of(stream)[-3:])]
    assert whole.usage.input_tokens == 1000
    assert whole.finish_reasons == ("stop",)
    assert whole.usage.response_model == "gpt-4o-mini-2024-07-18"


def chat_event(**fields: Any) -> dict[str, Any]:
    return {"id": "c", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": "w"}}], **fields}


FINISH = {"choices": [{"index": 0, "finish_reason": "stop"}]}
USAGE = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}


def test_first_events_are_read_for_a_tier_the_last_ones_lack(monkeypatch: pytest.MonkeyPatch) -> None:
    first = chat_event(service_tier="flex")
    stream = stream_of([first, *[chat_event()] * 6, chat_event(**FINISH), chat_event(**USAGE)], spaced=False)
    whole, read = read_pieces(monkeypatch, stream)
    assert whole.usage.service_tier == "flex"
    assert read[-1] == stream  # the end said no tier: every event read


def test_a_stream_whose_last_events_name_no_model_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    unnamed = {"choices": [{"index": 0, "delta": {"content": "w"}}]}
    first = {"model": "gpt-4o", **unnamed}
    stream = stream_of([first, *[unnamed] * 6, {**unnamed, **FINISH}, USAGE], spaced=False)
    whole, read = read_pieces(monkeypatch, stream)
    assert whole.usage.response_model == "gpt-4o"
    assert read[-1] == stream


def test_azure_first_event_without_model_or_id_is_not_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure OpenAI's first event holds only the prompt filter results."""
    filters = {"choices": [], "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}
    stream = stream_of([filters, *[chat_event()] * 6, chat_event(**FINISH), chat_event(**USAGE), "[DONE]"], False)
    whole, read = read_pieces(monkeypatch, stream)
    assert read == [b"".join(events_of(stream)[-3:])]
    assert (whole.usage.input_tokens, whole.usage.output_tokens, whole.finish_reasons) == (7, 3, ("stop",))


def test_a_leading_bom_is_dropped_when_the_stream_is_read_whole_after_its_end() -> None:
    """The end says a usage but no model: every event is read, the first after the BOM."""
    unnamed = {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": None}]}
    first = {"id": "c", "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    stream = stream_of([first, unnamed, {"id": "c", **USAGE}, "[DONE]"], False, b"\xef\xbb\xbf")
    whole, _ = parse([stream], FACTS)
    assert whole == parse([stream[:5], stream[5:]], FACTS)[0]
    assert (whole.finish_reasons, whole.usage.response_model) == (("stop",), "gpt-4o-2024-08-06")


def test_keep_alive_comments_are_not_counted_as_first_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure's first two chunks name no model: the third is read for it, and says the tier."""
    filters = {"id": "", "model": "", "choices": [], "prompt_filter_results": []}
    role = {"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    events = [filters, role, chat_event(service_tier="priority"), chat_event(**FINISH), chat_event(**USAGE), "[DONE]"]
    stream = stream_of(events, False, b": keep-alive\n\n: ping\n\n")
    whole, read = read_pieces(monkeypatch, stream)
    assert whole.usage.service_tier == "priority"
    assert read[-1] == stream  # the end said no tier: every event read


def test_a_first_event_among_the_last_ones_is_read_for_the_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a keep-alive, the last events start at the first one: it is read for the model (and tier)."""
    last = chat_event(**{**FINISH, **USAGE, "choices": FINISH["choices"]})
    stream = stream_of([chat_event(service_tier="flex"), last, "[DONE]"], False, b": ping\n\n")
    whole, _ = read_pieces(monkeypatch, stream)
    assert whole.usage.service_tier == "flex"


def test_a_chunk_that_is_not_json_is_one_of_those_read_for_the_model() -> None:
    """Three chunks that are not JSON use up the ones read for the model: the fourth's tier is not read,
    however the stream is cut."""
    events = ['{"choices":[]'] * 3 + [chat_event(service_tier="flex"), *[chat_event()] * 5]
    stream = stream_of([*events, chat_event(**FINISH), chat_event(**USAGE)], False)
    whole, _ = parse([stream], FACTS)
    assert whole == parse([stream[i : i + 1] for i in range(len(stream))], FACTS)[0]
    assert whole.usage.service_tier == "default"


def test_the_last_events_of_a_later_buffer_must_name_the_model_themselves() -> None:
    """A usage chunk before them names it (vLLM's continuous usage): what the first buffer said is stale."""
    unnamed = {"id": "c", "model": ""}
    events = [*[chat_event(model="gpt-4o-mini")] * 4, chat_event(**USAGE), {**unnamed, **FINISH}, {**unnamed, **USAGE}]
    stream = stream_of(events, False)
    buffers = [b"".join(events_of(stream)[:4]), b"".join(events_of(stream)[4:])]
    parsed, _ = parse(buffers, FACTS)
    assert parsed == parse([stream[i : i + 1] for i in range(len(stream))], FACTS)[0]
    assert parsed.usage.response_model == "gpt-4o"
