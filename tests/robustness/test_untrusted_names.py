"""Names a response body gives (its model, id, finish reasons, an error event's type) go to spans,
metric labels, logs and billing rows: one that is no name (spaces, line ends, a prompt) is left out,
never exported."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from robustkit import Instrumented

CANARY = "CANARY the prompt, echoed"

COMPLETION = {
    "id": f"chatcmpl-1\n{CANARY}",
    "object": "chat.completion",
    "created": 1741569952,
    "model": f"gpt-4o-mini {CANARY}",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "ok", "refusal": None},
            "finish_reason": f"stop {CANARY}",
        }
    ],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
}
# priced as the model asked for, gpt-4o-mini: input 0.15, output 0.60 USD per 1M:
# 1000 x 0.15 + 200 x 0.60 = 150 + 120 = 270 per 1M
COST = 0.00027


def exported_values(instrumented: Instrumented) -> list[Any]:
    values: list[Any] = []
    for span in instrumented.spans.get_finished_spans():
        values += [span.name, span.status.description, *(span.attributes or {}).values()]
    for name in ("gen_ai.client.cost", "ai.cost.requests", "ai.cost.tokens"):
        for point in instrumented.points(name):
            values += list(point.attributes.values())
    return values


def test_a_response_naming_itself_with_a_prompt_exports_none_of_it(instrumented: Instrumented) -> None:
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=COMPLETION))
    client = openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=transport))
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert answer.model == COMPLETION["model"]  # the caller sees the body as it is
    (span,) = instrumented.spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(COST)
    assert "gen_ai.response.model" not in attributes and "gen_ai.response.id" not in attributes
    assert "gen_ai.response.finish_reasons" not in attributes
    assert not any(CANARY in str(value) for value in exported_values(instrumented))
    (point,) = instrumented.points("gen_ai.client.cost")
    assert point.attributes["gen_ai.response.model"] == "gpt-4o-mini"


def test_an_error_event_naming_its_type_with_a_prompt_is_other(instrumented: Instrumented) -> None:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 100, "output_tokens": 1},
        },
    }
    error = {"type": "error", "error": {"type": f"overloaded_error {CANARY}", "message": "Overloaded"}}
    body = b"".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in (start, error))

    def respond(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )
    with pytest.raises(anthropic.APIStatusError):
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=[]) as stream:
            stream.until_done()
    (span,) = instrumented.spans.get_finished_spans()
    assert (span.attributes or {})["error.type"] == "_OTHER"
    assert not any(CANARY in str(value) for value in exported_values(instrumented))


def test_names_are_exported_at_most_256_characters_long(instrumented: Instrumented) -> None:
    completion = {**COMPLETION, "model": "gpt-4o-mini-" + "x" * 300, "id": "chatcmpl-" + "y" * 300}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=completion))
    client = openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=transport))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    attributes = dict(instrumented.spans.get_finished_spans()[0].attributes or {})
    assert all(len(str(value)) <= 256 for value in attributes.values())
    assert len(str(attributes["gen_ai.response.model"])) == 256  # cut by the parser, then a name (unpriced)
