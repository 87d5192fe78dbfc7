"""The Responses API's background mode through the real openai SDK: the POST answers `queued` with
no usage; the response is billed when it is fetched finished, once, however often it is fetched.

gpt-5 (USD per 1M tokens): input 1.25, output 10. The response below: 2000 input, 5000 output
(4000 of them reasoning): 2000 x 1.25 + 5000 x 10 = 2500 + 50000 = 52500 per 1M = $0.0525.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx2
import openai
import pytest

from otel_ai_cost import BudgetExceeded, budget, tags

if TYPE_CHECKING:
    from .conftest import Telemetry

RESPONSE_ID = "resp_68b9f1a2c3d4e5f6"
COST = 0.0525
USAGE = {
    "input_tokens": 2000,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 5000,
    "output_tokens_details": {"reasoning_tokens": 4000},
    "total_tokens": 7000,
}


def response(status: str, background: bool = True) -> dict[str, Any]:
    finished = status not in ("queued", "in_progress")
    text = [{"type": "output_text", "text": "Report ready.", "annotations": []}]
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1756700000,
        "status": status,
        "background": background,
        "model": "gpt-5-2025-08-07",
        "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": text}]
        if finished
        else [],
        "usage": USAGE if finished else None,
    }


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


class Server:
    """api.openai.com's answers: `polls` statuses for the GETs, in turn (the last one repeats)."""

    def __init__(self, *polls: str, background: bool = True) -> None:
        self.polls = list(polls)
        self.background = background
        self.requests: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            body = json.loads(request.content)
            if body.get("stream"):
                events = [
                    {"type": "response.created", "sequence_number": 0, "response": response("queued")},
                    {"type": "response.in_progress", "sequence_number": 1, "response": response("in_progress")},
                    {"type": "response.completed", "sequence_number": 2, "response": response("completed")},
                ]
                return httpx2.Response(200, content=sse(*events), headers={"content-type": "text/event-stream"})
            return httpx2.Response(200, json=response("queued", self.background))
        status = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
        if request.url.params.get("stream") == "true":
            done = {"type": "response.completed", "sequence_number": 5, "response": response(status)}
            return httpx2.Response(200, content=sse(done), headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=response(status, self.background))


def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(server))
    )


def test_billed_once_when_fetched_finished(telemetry: Telemetry) -> None:
    server = Server("queued", "in_progress", "completed")
    sdk = client(server)
    with tags(team="research", feature="reports"):
        started = sdk.responses.create(model="gpt-5", input="write the report", background=True)
        assert started.status == "queued"
        statuses = [sdk.responses.retrieve(started.id).status for _ in range(5)]
    assert statuses == ["queued", "in_progress", "completed", "completed", "completed"]
    assert server.requests[1] == f"GET /v1/responses/{RESPONSE_ID}"
    spans = telemetry.finished()
    assert len(spans) == 6  # the POST and the five GETs
    billed = [dict(s.attributes or {}) for s in spans if "gen_ai.usage.cost.amount" in (s.attributes or {})]
    assert len(billed) == 1 and billed[0]["gen_ai.usage.cost.amount"] == pytest.approx(COST)
    assert billed[0]["gen_ai.response.model"] == "gpt-5-2025-08-07"
    assert billed[0]["ai.cost.team"] == "research"
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "research"}) == pytest.approx(COST)
    assert telemetry.total("ai.cost.requests") == 1  # one request: not the POST nor the polls again
    assert telemetry.total("ai.cost.unpriced") == 0  # the queued POST is not an unpriced request


def test_a_background_stream_is_billed_at_the_post_and_not_again_when_fetched(telemetry: Telemetry) -> None:
    sdk = client(Server("completed"))
    events = list(sdk.responses.create(model="gpt-5", input="write the report", background=True, stream=True))
    assert events[-1].type == "response.completed"
    sdk.responses.retrieve(RESPONSE_ID)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(COST)
    assert telemetry.total("ai.cost.requests") == 1


def test_a_resumed_stream_bills_the_finished_response(telemetry: Telemetry) -> None:
    sdk = client(Server("completed"))
    sdk.responses.create(model="gpt-5", input="write the report", background=True)
    resumed = list(sdk.responses.retrieve(RESPONSE_ID, stream=True, starting_after=4))
    assert resumed[-1].type == "response.completed"
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(COST)
    sdk.responses.retrieve(RESPONSE_ID)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(COST)


def test_fetching_a_stored_response_that_is_not_background_bills_nothing(telemetry: Telemetry) -> None:
    sdk = client(Server("completed", background=False))
    sdk.responses.retrieve(RESPONSE_ID)
    span = telemetry.one_span()
    assert "gen_ai.usage.cost.amount" not in (span.attributes or {})
    assert telemetry.total("gen_ai.client.cost") == 0 and telemetry.total("ai.cost.requests") == 0


def test_a_spent_budget_does_not_stop_fetching_what_was_sent(telemetry: Telemetry) -> None:
    sdk = client(Server("completed"))
    with budget(requests=1, name="reports"):
        sdk.responses.create(model="gpt-5", input="write the report", background=True)
        sdk.responses.retrieve(RESPONSE_ID)  # finished: counts the request, the budget is spent
        assert sdk.responses.retrieve(RESPONSE_ID).status == "completed"  # still fetched
        with pytest.raises(BudgetExceeded):
            sdk.responses.create(model="gpt-5", input="another report", background=True)


class CutAfter(httpx2.SyncByteStream):
    """A body whose connection is lost after these bytes."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __iter__(self) -> Any:
        yield self.body
        raise httpx2.ReadError("connection reset")


def streamed(*statuses: str, background: bool = True) -> bytes:
    return sse(
        *(
            {"type": f"response.{s}", "sequence_number": i, "response": response(s, background)}
            for i, s in enumerate(statuses)
        )
    )


def test_a_background_stream_cut_after_it_completed_is_not_billed_again_when_fetched(telemetry: Telemetry) -> None:
    def respond(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            body = CutAfter(streamed("created", "completed"))
            return httpx2.Response(200, stream=body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=response("completed"))

    sdk = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )
    with pytest.raises(openai.APIConnectionError):
        for _ in sdk.responses.create(model="gpt-5", input="write the report", background=True, stream=True):
            pass
    sdk.responses.retrieve(RESPONSE_ID)
    failed, fetched = (dict(s.attributes or {}) for s in telemetry.finished())
    assert failed["error.type"] == "ReadError" and failed["gen_ai.usage.cost.amount"] == pytest.approx(COST)
    assert "gen_ai.usage.cost.amount" not in fetched
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(COST)


@pytest.mark.parametrize("estimate", ["true", "false"])
def test_a_background_stream_left_unfinished_is_billed_when_fetched(
    telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch, estimate: str
) -> None:
    monkeypatch.setenv("OTEL_AI_COST_ESTIMATE_STREAM_USAGE", estimate)
    telemetry.reinstrument()
    delta = {"type": "response.output_text.delta", "sequence_number": 2, "delta": "Report"}
    body = streamed("created", "in_progress") + sse(delta)

    def respond(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=response("completed"))

    sdk = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )
    list(sdk.responses.create(model="gpt-5", input="write the report", background=True, stream=True))
    sdk.responses.retrieve(RESPONSE_ID)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(COST)  # not an estimate of the POST besides
    assert telemetry.total("ai.cost.requests") == 1
    assert telemetry.total("ai.cost.unpriced") == 0


def test_a_response_whose_id_is_not_text_is_billed_once_by_the_id_asked_for(telemetry: Telemetry) -> None:
    def respond(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={**response("completed"), "id": 12345})

    sdk = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )
    for _ in range(3):
        sdk.responses.retrieve(RESPONSE_ID)
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(COST)


def test_a_fetched_response_is_labelled_with_the_model_it_ran(telemetry: Telemetry) -> None:
    client(Server("completed")).responses.retrieve(RESPONSE_ID)
    span = telemetry.one_span()
    assert span.name == "chat gpt-5-2025-08-07"
    assert (span.attributes or {})["gen_ai.request.model"] == "gpt-5-2025-08-07"
    [point] = telemetry.points("gen_ai.client.cost")
    assert point.attributes["gen_ai.request.model"] == "gpt-5-2025-08-07"  # not "unknown"


def test_a_final_event_over_the_event_cap_keeps_its_searches_and_is_billed_once(telemetry: Telemetry) -> None:
    searches = [
        {"type": "web_search_call", "id": f"ws_{i}", "status": "completed", "action": {"type": "search", "query": "q"}}
        for i in range(20)
    ]
    text = [{"type": "output_text", "text": "x" * 1_200_000, "annotations": []}]  # over the 1 MiB event cap
    message = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": text}
    big = {**response("completed"), "output": [*searches, message]}
    completed = {"type": "response.completed", "sequence_number": 9, "response": big}

    def respond(request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            return httpx2.Response(200, content=sse(completed), headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=big)

    sdk = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )
    list(
        sdk.responses.create(
            model="gpt-5", input="research", background=True, stream=True, tools=[{"type": "web_search"}]
        )
    )
    sdk.responses.retrieve(RESPONSE_ID)
    posted = dict(telemetry.finished()[0].attributes or {})
    assert posted["ai.web_search.count"] == 20
    # $0.0525 of tokens + 20 searches x $10 / 1000 = $0.0525 + $0.20 = $0.2525, once
    assert telemetry.total("gen_ai.client.cost") == pytest.approx(COST + 0.20)
