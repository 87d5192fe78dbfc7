"""The OpenAI stream parser reads a buffer of plain `data:` events in one scan (`OpenAIStreamParser.feed`):
whatever the events hold, that gives exactly what reading them one at a time gives.

The reference is the same stream fed a byte at a time (and cut inside its first event), which
never takes the one-scan path: each piece leaves the SSE reader inside an event.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.providers.openai import OpenAIProtocol

PROTOCOL = OpenAIProtocol()
FACTS = RequestFacts(provider="openai", operation="chat", request_model="gpt-4o-mini", stream=True)

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
]

text = st.sampled_from(TRICKY_TEXT) | st.text(max_size=12)
usage = st.fixed_dictionaries(
    {"prompt_tokens": st.integers(0, 5000), "completion_tokens": st.integers(0, 5000)},
    optional={"prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(0, 100)})},
)


@st.composite
def chunk(draw: st.DrawFn) -> Any:
    """One event of a chat stream, or something else a server or proxy might put in one."""
    kind = draw(st.sampled_from(["delta", "delta", "delta", "finish", "usage", "groq", "typed", "done", "junk"]))
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
        for index in range(draw(st.integers(0, 2)))
    ]
    event: dict[str, Any] = {"id": "chatcmpl-1", "model": draw(st.sampled_from(["gpt-4o-mini", "gpt-4o"]))}
    event["choices"] = choices
    event["usage"] = draw(usage) if kind == "usage" else None
    if kind == "groq":
        event["x_groq"] = {"usage": draw(usage)}
    if draw(st.booleans()):
        event[draw(text)] = draw(text)  # an extra key, perhaps one of the searched names
    return event


def stream_of(events: list[Any], spaced: bool) -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    return b"".join(
        b"data: "
        + (event if isinstance(event, str) else json.dumps(event, separators=separators)).encode("utf-8", "replace")
        + b"\n\n"
        for event in events
        if not (isinstance(event, str) and "\n" in event)  # a raw LF in data would make it two lines
    )


def parse(pieces: list[bytes]) -> tuple[ParsedResponse, int]:
    parser = PROTOCOL.stream_parser(FACTS)
    for piece in pieces:
        parser.feed(piece)
    parsed = parser.finish()
    return parsed, parsed.content_events


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(chunk(), min_size=1, max_size=12), st.booleans(), st.integers(0, 3))
def test_one_scan_reads_what_one_event_at_a_time_reads(events: list[Any], spaced: bool, buffers: int) -> None:
    stream = stream_of(events, spaced)
    one_at_a_time = parse([stream[i : i + 1] for i in range(len(stream))])
    # The tee hands over the whole stream, or several buffers of whole events.
    ends = [index for index in range(len(stream)) if stream.startswith(b"\n\n", index)]
    cuts = sorted({ends[(k * len(ends)) // (buffers + 1)] + 2 for k in range(1, buffers + 1)} if ends else set())
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert parse(pieces) == one_at_a_time
    assert parse([stream]) == one_at_a_time


def test_the_bench_stream_takes_the_one_scan_path_and_agrees() -> None:
    """A 50-chunk stream as api.openai.com sends it: model, finish reason, usage and 48 content deltas."""
    deltas = [
        {"id": "c", "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "delta": {"content": f" w{i}"}}]}
        for i in range(48)
    ]
    finish = {"id": "c", "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "finish_reason": "stop"}]}
    last = {"id": "c", "model": "gpt-4o-mini-2024-07-18", "choices": [], "usage": {"prompt_tokens": 1000}}
    stream = stream_of([*deltas, finish, last, "[DONE]"], spaced=False)
    parser = PROTOCOL.stream_parser(FACTS)
    assert parser._sse.plain_events(stream)  # the path under test is taken for this stream
    whole, content = parse([stream])
    assert (whole, content) == parse([stream[i : i + 1] for i in range(len(stream))])
    assert content == 47  # the first delta is parsed for the model and id, the other 47 are counted
    assert whole.usage.input_tokens == 1000
    assert whole.finish_reasons == ("stop",)
