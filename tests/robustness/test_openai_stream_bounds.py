"""What a hostile OpenAI-style stream can cost the parser: no more than a harmless one of its size.

- CPU: a final event over the event cap whose kept tail is full of `"usage":{` keys is decoded once,
  and only its last few keys are tried as the usage object.
- Memory: the usage of any number of image events is summed as they come, not kept; the sums are
  those of every usage kept and added up at the end.

Work is counted (JSON decodes, bytes held), not timed.
"""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest

from otel_ai_cost.providers import _json, openai_stream
from otel_ai_cost.providers.base import RequestFacts
from otel_ai_cost.providers.openai_response import ResponseState
from otel_ai_cost.providers.openai_stream import OpenAIStreamParser
from otel_ai_cost.providers.sse import MAX_EVENT_BYTES

RESPONSES = RequestFacts(provider="openai", operation="chat", request_model="gpt-5", stream=True)
IMAGES = RequestFacts(provider="openrouter", operation="image_generation", request_model="gpt-image-1", stream=True)
REAL_USAGE = b'"usage":{"input_tokens":21,"output_tokens":34}'


class CountingDecoder(json.JSONDecoder):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def raw_decode(self, s: str, idx: int = 0) -> tuple[Any, int]:
        self.calls += 1
        return super().raw_decode(s, idx)


def over_the_cap(tail: bytes) -> bytes:
    """A `response.completed` event larger than the event cap, its data ending in `tail`."""
    output = b"x" * MAX_EVENT_BYTES
    data = b'{"type":"response.completed","response":{"id":"resp_1","model":"gpt-5","output":"' + output + b'",'
    return b"event: response.completed\ndata: " + data + tail + b"\n\n"


def parse(stream: bytes, facts: RequestFacts = RESPONSES, size: int = 65536) -> Any:
    parser = OpenAIStreamParser(facts)
    for start in range(0, len(stream), size):
        parser.feed(stream[start : start + size])
    return parser.finish()


@pytest.mark.parametrize(
    ("tail", "found"),
    [
        (b'"usage":{' * 10_000, False),  # the kept tail is keys only: thousands of objects to try
        (b'"usage":{"usage":null,' * 5_000, False),
        (b'"usage":{' * 10_000 + b'"a":1,' + REAL_USAGE + b"}}", True),
    ],
)
def test_a_tail_full_of_usage_keys_costs_a_few_decodes(
    monkeypatch: pytest.MonkeyPatch, tail: bytes, found: bool
) -> None:
    decoder = CountingDecoder()
    monkeypatch.setattr(_json, "_DECODER", decoder)
    parsed = parse(over_the_cap(tail) * 3)
    assert decoder.calls <= 3 * openai_stream._USAGE_TRIES
    assert parsed.usage_found is found
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == ((21, 34) if found else (0, 0))


def test_the_usage_at_the_end_of_an_honest_event_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tool schemas before it may hold a `usage` property; the usage object is the last one."""
    decoder = CountingDecoder()
    monkeypatch.setattr(_json, "_DECODER", decoder)
    schema = b'"tools":[{"type":"function","parameters":{"properties":{"usage":{"type":"string"}}}}],'
    parsed = parse(over_the_cap(schema + REAL_USAGE + b',"user":null,"metadata":{}}}'))
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens, parsed.response_id) == (21, 34, "resp_1")
    assert decoder.calls == 1


def image_event(usage: dict[str, Any]) -> bytes:
    event = {"type": "image_generation.completed", "b64_json": "iVBO", "size": "1024x1024", "usage": usage}
    return b"event: image_generation.completed\ndata: " + json.dumps(event).encode() + b"\n\n"


def test_image_events_without_end_hold_no_more_memory() -> None:
    usage = {"input_tokens": 1, "output_tokens": 2, "input_tokens_details": {"text_tokens": 1, "image_tokens": 0}}
    events = image_event(usage) * 200
    parser = OpenAIStreamParser(IMAGES)
    parser.feed(events)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            parser.feed(events)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 64 << 10  # 4000 usage objects kept would be megabytes
    parsed = parser.finish()
    assert (parsed.usage.image_count, parsed.usage.input_tokens, parsed.usage.output_tokens) == (4200, 4200, 8400)


USAGES: list[dict[str, Any]] = [
    {"input_tokens": 50, "output_tokens": 272, "input_tokens_details": {"cached_tokens": 80, "image_tokens": 9}},
    {"input_tokens": 14, "output_tokens": 0, "cost": 0.1},
    {"output_tokens": 7, "output_tokens_details": {"image_tokens": 3, "reasoning_tokens": 9}, "cost": 0.2},
    {"total_tokens": 5},  # no input or output: not a usage
    {"prompt_tokens": 3, "completion_tokens": 4, "cost": 0.3, "prompt_tokens_details": {"cache_write_tokens": 9}},
]


def reference(usages: list[dict[str, Any]], images: int) -> tuple[Any, bool]:
    """What the usages kept and added up at the end make."""
    state = ResponseState(IMAGES)
    state.usages = usages
    state.images = images
    if images:
        state.image_facts({"size": "1024x1024"})
    built = state.build()
    return built.usage, built.usage_found


def test_image_usages_are_summed_as_every_one_kept_would_be() -> None:
    for count in range(len(USAGES) + 1):
        parsed = parse(b"".join(image_event(usage) for usage in USAGES[:count]), IMAGES)
        assert (parsed.usage, parsed.usage_found) == reference(USAGES[:count], count)


def test_a_final_response_usage_replaces_the_image_usages_before_it() -> None:
    final = {"type": "response.completed", "response": {"usage": {"input_tokens": 100, "cost": 0.7}}}
    stream = b"".join(
        [
            image_event(USAGES[0]),
            image_event(USAGES[1]),
            b"event: response.completed\ndata: " + json.dumps(final).encode() + b"\n\n",
            image_event(USAGES[2]),
            image_event(USAGES[4]),
        ]
    )
    for size in (len(stream), 7):
        parsed = parse(stream, IMAGES, size)
        assert (parsed.usage, parsed.usage_found) == reference([final["response"]["usage"], USAGES[2], USAGES[4]], 4)
