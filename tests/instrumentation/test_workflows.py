"""`workflow()`: a span over a run's AI requests, their cost added up, and the run's outcome.

Real openai and anthropic SDKs over httpx2.MockTransport (spend_testkit); costs by hand there:
one OpenAI chat = 0.00045 USD, 1000 + 500 tokens; one Anthropic message = 0.006 USD, 1000 + 200 tokens.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from spend_testkit import (
    ANTHROPIC_COST,
    OPENAI_COST,
    UNKNOWN_MODEL,
    Handler,
    anthropic_client,
    ask_anthropic,
    ask_openai,
    ask_openai_async,
    async_openai_client,
    openai_client,
)

from otel_ai_cost import AICostInstrumentor, BudgetExceeded, budget, tags, workflow
from otel_ai_cost.workflows import current_workflow

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from .conftest import Telemetry

RUNS = "ai.cost.workflow.runs"
COST = "ai.cost.workflow.cost"


def workflow_spans(telemetry: Telemetry) -> list[ReadableSpan]:
    return [span for span in telemetry.finished() if span.kind == SpanKind.INTERNAL]


def request_spans(telemetry: Telemetry) -> list[ReadableSpan]:
    return [span for span in telemetry.finished() if span.kind == SpanKind.CLIENT]


def test_a_run_is_the_parent_span_and_adds_up_its_requests(telemetry: Telemetry) -> None:
    handler = Handler()
    openai_sdk, anthropic_sdk = openai_client(handler), anthropic_client(handler)
    with tags(team="support", feature="triage"), workflow("triage") as run:
        ask_openai(openai_sdk)
        ask_anthropic(anthropic_sdk)
        ask_openai(openai_sdk)
        run.outcome = "success"

    (span,) = workflow_spans(telemetry)
    requests = request_spans(telemetry)
    assert span.name == "workflow triage"
    assert len(requests) == 3
    assert all(request.parent is not None and request.parent.span_id == span.context.span_id for request in requests)
    attributes = dict(span.attributes or {})
    # 2 x 0.00045 + 0.006 = 0.0069
    expected = 2 * OPENAI_COST + ANTHROPIC_COST
    assert attributes["ai.cost.workflow.cost"] == pytest.approx(0.0069)
    assert attributes["ai.cost.workflow.cost"] == pytest.approx(
        sum(float(r.attributes["gen_ai.usage.cost.amount"]) for r in requests)  # type: ignore[arg-type, index]
    )
    assert attributes["ai.cost.workflow.name"] == "triage"
    assert attributes["ai.cost.workflow.outcome"] == "success"
    assert attributes["ai.cost.workflow.requests"] == 3
    assert attributes["ai.cost.workflow.input_tokens"] == 3000
    assert attributes["ai.cost.workflow.output_tokens"] == 500 + 200 + 500
    assert attributes["ai.cost.workflow.unpriced_requests"] == 0
    assert attributes["ai.cost.team"] == "support"
    assert span.status.status_code == StatusCode.UNSET

    labels = {
        "ai.cost.workflow.name": "triage",
        "ai.cost.workflow.outcome": "success",
        "ai.cost.team": "support",
        "ai.cost.feature": "triage",
    }
    assert telemetry.total(RUNS, **labels) == 1
    (point,) = telemetry.points(COST)
    assert (point.count, point.sum) == (1, pytest.approx(expected))
    assert point.attributes["ai.cost.workflow.outcome"] == "success"
    assert run.spent.usd == pytest.approx(expected)


def test_outcome_defaults_to_unknown_and_can_be_any_short_string(telemetry: Telemetry) -> None:
    with workflow("a"):
        pass
    with workflow("b") as run:
        run.set_outcome("escalated\n")
    outcomes = {
        s.attributes["ai.cost.workflow.name"]: s.attributes["ai.cost.workflow.outcome"]
        for s in workflow_spans(telemetry)
    }  # type: ignore[index]
    assert outcomes == {"a": "unknown", "b": "escalated"}
    assert telemetry.total(RUNS, **{"ai.cost.workflow.outcome": "unknown"}) == 1
    # a run with no request costs 0 (recorded, not skipped)
    assert [p.sum for p in telemetry.points(COST)] == [0, 0]


def test_an_escaping_exception_is_a_failure_with_its_type(telemetry: Telemetry) -> None:
    client = openai_client(Handler())
    with pytest.raises(KeyError), workflow("lookup") as run:
        ask_openai(client)
        run.outcome = "success"
        raise KeyError("customer 42")
    (span,) = workflow_spans(telemetry)
    attributes = dict(span.attributes or {})
    assert attributes["ai.cost.workflow.outcome"] == "failure"
    assert attributes["error.type"] == "KeyError"
    assert span.status.status_code == StatusCode.ERROR
    assert not span.status.description  # an exception's text may quote a prompt: not exported
    assert attributes["ai.cost.workflow.cost"] == pytest.approx(OPENAI_COST)
    assert telemetry.total(RUNS, **{"ai.cost.workflow.outcome": "failure"}) == 1


def test_a_budget_stopping_a_run_fails_it(telemetry: Telemetry) -> None:
    handler = Handler()
    client = openai_client(handler)
    with pytest.raises(BudgetExceeded), workflow("agent"), budget(requests=2, name="agent-steps"):
        while True:  # an agent loop that would not stop by itself
            ask_openai(client)
    (span,) = workflow_spans(telemetry)
    assert span.attributes is not None
    assert (span.attributes["ai.cost.workflow.requests"], span.attributes["error.type"]) == (2, "BudgetExceeded")
    assert len(handler.seen) == 2


def test_failed_and_unpriced_requests_are_counted_apart(telemetry: Telemetry) -> None:
    client = openai_client(Handler())
    with workflow("mixed") as run:
        ask_openai(client)
        ask_openai(client, model=UNKNOWN_MODEL)
        with pytest.raises(Exception, match="server had an error"):
            ask_openai(client, model="fail")
    assert run.spent.requests == 3
    assert run.spent.unpriced_requests == 1
    assert run.spent.usd == pytest.approx(OPENAI_COST)  # the unknown one is not a cost of 0 that looks known
    (span,) = workflow_spans(telemetry)
    assert span.attributes is not None and span.attributes["ai.cost.workflow.unpriced_requests"] == 1


def test_nested_runs_each_count_and_nest_their_spans(telemetry: Telemetry) -> None:
    client = openai_client(Handler())
    with workflow("ticket") as outer:
        ask_openai(client)
        with workflow("research") as inner:
            ask_openai(client)
            ask_openai(client)
    assert (outer.spent.requests, inner.spent.requests) == (3, 2)
    assert outer.spent.usd == pytest.approx(3 * OPENAI_COST)  # 3 x 0.00045 = 0.00135
    spans = {span.name: span for span in workflow_spans(telemetry)}
    assert spans["workflow research"].parent is not None
    assert spans["workflow research"].parent.span_id == spans["workflow ticket"].context.span_id


def test_threads_with_a_copied_context_and_tasks_add_to_the_run(telemetry: Telemetry) -> None:
    client = openai_client(Handler())
    with workflow("fan-out") as run, ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(contextvars.copy_context().run, ask_openai, client) for _ in range(6)]
        for future in futures:
            future.result()
    assert run.spent.requests == 6
    assert run.spent.usd == pytest.approx(6 * OPENAI_COST)  # 6 x 0.00045 = 0.0027

    async def agent() -> workflow:
        async_client = async_openai_client(Handler())
        async with workflow("async-agent") as async_run:
            await asyncio.gather(*(ask_openai_async(async_client) for _ in range(3)))
            async_run.outcome = "success"
        return async_run

    async_run = asyncio.run(agent())
    assert (async_run.spent.requests, async_run.spent.output_tokens) == (3, 1500)
    spans = {span.name: span for span in workflow_spans(telemetry)}
    parent = spans["workflow async-agent"].context.span_id
    children = [s for s in request_spans(telemetry) if s.parent is not None and s.parent.span_id == parent]
    assert len(children) == 3


def test_decorated_functions_are_runs_and_see_their_run(telemetry: Telemetry) -> None:
    client = openai_client(Handler())

    @workflow("classify")
    def classify() -> str:
        ask_openai(client)
        run = current_workflow()
        assert run is not None
        run.outcome = "success"
        return run.name

    @workflow("classify-async")
    async def classify_async() -> None:
        await ask_openai_async(async_openai_client(Handler()))

    assert classify() == "classify"
    classify()
    asyncio.run(classify_async())
    assert current_workflow() is None
    assert telemetry.total(RUNS, **{"ai.cost.workflow.name": "classify", "ai.cost.workflow.outcome": "success"}) == 2
    assert (
        telemetry.total(RUNS, **{"ai.cost.workflow.name": "classify-async", "ai.cost.workflow.outcome": "unknown"}) == 1
    )
    costs = [p.sum for p in telemetry.points(COST) if p.attributes["ai.cost.workflow.name"] == "classify"]
    assert costs == [pytest.approx(2 * OPENAI_COST)]  # two runs of 0.00045 in one series


def test_without_instrumentation_a_workflow_runs_its_block_and_never_raises() -> None:
    AICostInstrumentor().uninstrument()
    with workflow("plain") as run:
        ask_openai(openai_client(Handler()))
        run.outcome = "success"
    assert (run.outcome, run.spent.requests) == ("success", 0)

    @workflow("plain")
    def decorated() -> int:
        return 7

    assert decorated() == 7


def test_a_stream_counts_when_it_ends_for_the_run_that_sent_it(telemetry: Telemetry) -> None:
    client = openai_client(Handler())
    with workflow("streamed") as run:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "secret prompt"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        assert run.spent.requests == 0  # sent, not finished: nothing counted yet
        chunks = list(stream)
        run.outcome = "success"
    assert chunks[-1].usage is not None
    # 1000 x 0.15 + 500 x 0.60 = 450 per 1M
    assert (run.spent.requests, run.spent.usd, run.spent.output_tokens) == (1, pytest.approx(0.00045), 500)
    (span,) = workflow_spans(telemetry)
    assert span.attributes is not None and span.attributes["ai.cost.workflow.cost"] == pytest.approx(0.00045)
