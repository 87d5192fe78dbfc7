"""The real boto3 bedrock-runtime client against a loopback server answering with garbage: mutated,
truncated and non-JSON bodies for Converse and InvokeModel (with error statuses too), and for
ConverseStream and InvokeModelWithResponseStream valid event-stream frames carrying garbage
payloads, frames with a flipped byte (bad CRC or prelude) and streams cut mid-frame. The caller
sees the same result or exception (type and message) as with the instrumentation suppressed;
every instrumented call starts one span and ends it exactly once; nothing of ours raises.

The server and client are those of `tests/instrumentation/test_bedrock_boto3.py`, the frames
`tests/eventstream_testkit.py`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eventstream_testkit import CONTENT_TYPE as EVENT_STREAM
from eventstream_testkit import chunk_event, event, event_message
from fuzzkit import HOSTILE_VALUES, fixture, garbage, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.instrumentation.utils import suppress_instrumentation
from otel_testkit import serving
from robustkit import Instrumented, outcome
from test_bedrock_boto3 import HAIKU_35, SONNET_45_GLOBAL, FakeBedrock, bedrock_client

CONVERSE = json.loads(fixture("bedrock_converse_cache.json"))
CONVERSE_EVENTS = [json.loads(line) for line in fixture("bedrock_converse_stream.jsonl").splitlines()]
MESSAGE = json.loads(fixture("bedrock_anthropic_message.json"))
MESSAGE_CHUNKS = [json.loads(line) for line in fixture("bedrock_anthropic_stream.jsonl").splitlines()]
MESSAGES: Any = [{"role": "user", "content": [{"text": "hi"}]}]
ANTHROPIC_BODY = json.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400, "messages": [{"role": "user", "content": "hi"}]}
)


@pytest.fixture(scope="module")
def fake_bedrock() -> Iterator[FakeBedrock]:
    with serving(FakeBedrock()) as server:
        yield server


@pytest.fixture(scope="module")
def client(fake_bedrock: FakeBedrock) -> Any:
    """One client for all examples (building one takes tens of ms)."""
    return bedrock_client(fake_bedrock)


def converse_frames(events: list[Any]) -> list[bytes]:
    return [
        event(next(iter(e)), next(iter(e.values()))) if isinstance(e, dict) and e else event("x", e) for e in events
    ]


def chunk_frames(chunks: list[Any]) -> list[bytes]:
    return [chunk_event(json.dumps(chunk).encode()) for chunk in chunks]


@st.composite
def broken_stream(draw: st.DrawFn, events: list[Any], frames_of: Callable[[list[Any]], list[bytes]]) -> bytes:
    """An event stream with one event's payload mutated, or raw bytes in a valid frame, or a byte
    flipped (the frame's CRC or prelude no longer holds), or the stream cut anywhere."""
    mutated = list(events)
    index = draw(st.integers(min_value=0, max_value=len(events) - 1))
    picks = st.lists(st.tuples(st.integers(0, 1000), st.sampled_from(HOSTILE_VALUES)), min_size=1, max_size=3)
    mutated[index] = mutate(mutated[index], draw(picks), root=False)
    frames = frames_of(mutated if draw(st.booleans()) else events)
    kind = draw(st.sampled_from(["valid-frames", "raw-payload", "flipped-byte", "cut"]))
    if kind == "raw-payload":
        headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
        frames.insert(index, event_message(headers, draw(st.binary(max_size=64))))
    body = b"".join(frames)
    offset = draw(st.integers(min_value=0, max_value=len(body) - 1))
    if kind == "flipped-byte":
        body = body[:offset] + bytes([body[offset] ^ draw(st.integers(1, 255))]) + body[offset + 1 :]
    elif kind == "cut":
        body = body[:offset]
    return body


def seen(response: dict[str, Any], **read: Any) -> dict[str, Any]:
    """The response as the caller has it, without the server's clock, with its payload read."""
    metadata = dict(response.get("ResponseMetadata") or {})
    metadata["HTTPHeaders"] = {k: v for k, v in metadata.get("HTTPHeaders", {}).items() if k != "date"}
    return {**response, "ResponseMetadata": metadata, **read}


def read_in_pieces(body: Any) -> list[bytes]:
    pieces = []
    while piece := body.read(11):
        pieces.append(piece)
    return pieces


def read_into(body: Any) -> list[bytes]:
    buffer = bytearray(13)
    pieces = []
    while size := body.readinto(buffer):
        pieces.append(bytes(buffer[:size]))
    return pieces


def read_then_close(body: Any) -> bytes:
    try:
        return bytes(body.read(5))
    finally:
        body.close()


def first_event_then_close(stream: Any) -> list[Any]:
    try:
        return [next(iter(stream), None)]
    finally:
        stream.close()


def bedrock_calls(client: Any) -> dict[str, tuple[str, Callable[[], Any]]]:
    """Each call, with the kind of answer it gets."""

    def converse() -> Any:
        return seen(client.converse(modelId=HAIKU_35, messages=MESSAGES))

    def invoke(read: Callable[[Any], Any]) -> Callable[[], Any]:
        def call() -> Any:
            response = client.invoke_model(modelId=HAIKU_35, body=ANTHROPIC_BODY)
            return seen(response, body=read(response["body"]))

        return call

    def converse_stream(read: Callable[[Any], Any]) -> Callable[[], Any]:
        def call() -> Any:
            response = client.converse_stream(modelId="us.amazon.nova-lite-v1:0", messages=MESSAGES)
            return seen(response, stream=read(response["stream"]))

        return call

    def invoke_stream() -> Any:
        response = client.invoke_model_with_response_stream(modelId=SONNET_45_GLOBAL, body=ANTHROPIC_BODY)
        return seen(response, body=list(response["body"]))

    return {
        "converse": ("converse-json", converse),
        "invoke_model": ("message-json", invoke(lambda body: body.read())),
        "invoke_model-pieces": ("message-json", invoke(read_in_pieces)),
        "invoke_model-readinto": ("message-json", invoke(read_into)),
        "invoke_model-lines": ("message-json", invoke(lambda body: list(body.iter_lines()))),
        "invoke_model-closed-early": ("message-json", invoke(read_then_close)),
        "converse_stream": ("converse-frames", converse_stream(list)),
        "converse_stream-closed-early": ("converse-frames", converse_stream(first_event_then_close)),
        "invoke_model_with_response_stream": ("message-frames", invoke_stream),
    }


def as_frames(frames: Callable[[list[Any]], list[bytes]]) -> Callable[[list[Any]], bytes]:
    return lambda events: b"".join(frames(events))


ANSWERS = {
    "converse-json": garbage(CONVERSE, as_frames(converse_frames), CONVERSE_EVENTS),
    "message-json": garbage(MESSAGE, as_frames(chunk_frames), MESSAGE_CHUNKS),
    "converse-frames": broken_stream(CONVERSE_EVENTS, converse_frames),
    "message-frames": broken_stream(MESSAGE_CHUNKS, chunk_frames),
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.data(), st.sampled_from([200, 200, 200, 200, 400, 500]))
def test_garbage_answers_change_nothing_for_a_boto3_caller(
    instrumented: Instrumented, fake_bedrock: FakeBedrock, client: Any, data: st.DataObject, status: int
) -> None:
    instrumented.ledger.reset()
    fake_bedrock.requests.clear()
    for name, (kind, call) in bedrock_calls(client).items():
        body = data.draw(ANSWERS[kind], label=kind)
        content_type = EVENT_STREAM if kind.endswith("frames") else "application/json"
        answer = (status, {"Content-Type": content_type}, body)
        fake_bedrock.answers[:] = [answer]
        with suppress_instrumentation():
            expected = outcome(call)
        fake_bedrock.answers[:] = [answer]
        assert outcome(call) == expected, name
        assert instrumented.ledger.open_spans() == set(), f"{name}: a span was left open"
    assert len(fake_bedrock.requests) == 2 * 9
    instrumented.ledger.assert_balanced(9)


def test_corrupt_frames_reach_the_caller_as_botocore_raises_them(
    instrumented: Instrumented, fake_bedrock: FakeBedrock, client: Any
) -> None:
    """The corruptions are real: a flipped CRC byte is botocore's checksum error, for both runs."""
    frames = b"".join(converse_frames(CONVERSE_EVENTS))
    flipped = frames[:-1] + bytes([frames[-1] ^ 0xFF])  # the last message's CRC
    call = bedrock_calls(client)["converse_stream"][1]
    outcomes = []
    for suppressed in (True, False):
        fake_bedrock.answers[:] = [(200, {"Content-Type": EVENT_STREAM}, flipped)]
        if suppressed:
            with suppress_instrumentation():
                outcomes.append(outcome(call))
        else:
            outcomes.append(outcome(call))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:2] == ("raised", "ChecksumMismatch"), outcomes[0]
    instrumented.ledger.assert_balanced(1)
