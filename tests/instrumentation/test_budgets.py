"""`budget()`: limits checked before a request is sent, spend added when it finishes.

Real openai and anthropic SDKs over httpx2.MockTransport (spend_testkit); costs by hand there:
one OpenAI chat = 0.00045 USD, 1000 + 500 tokens; one Anthropic message = 0.006 USD, 1000 + 200 tokens.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import pickle
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import anthropic
import httpx2
import pytest
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

from otel_ai_cost import AICostInstrumentor, BudgetExceeded, budget, tags
from otel_ai_cost.budgets import ENV_BUDGETS_FILE, TagBudget, check_before_send, load_tag_budgets, period_seconds
from otel_ai_cost.scopes import active_scopes

if TYPE_CHECKING:
    from .conftest import Telemetry

EXCEEDED = "ai.cost.budget.exceeded"


def test_a_spent_budget_raises_before_sending(telemetry: Telemetry) -> None:
    handler = Handler()
    client = openai_client(handler)
    with budget(usd=0.0008, name="triage") as limit:
        ask_openai(client)  # 0.00045 spent: under 0.0008
        ask_openai(client)  # allowed (under before sending); 0.0009 spent: the last request overshoots
        with pytest.raises(BudgetExceeded) as raised:
            ask_openai(client)
    assert len(handler.seen) == 2  # the third request never reached the transport
    assert (raised.value.budget_name, raised.value.limit_kind, raised.value.limit) == ("triage", "usd", 0.0008)
    assert raised.value.spent == pytest.approx(2 * OPENAI_COST)  # 2 x 0.00045 = 0.0009
    assert limit.spent.usd == pytest.approx(0.0009)
    assert limit.spent.requests == 2
    assert len(telemetry.finished()) == 2  # no span for the request that was not sent
    assert telemetry.total(EXCEEDED, **{"ai.cost.budget.name": "triage", "ai.cost.budget.action": "raise"}) == 1


def test_exceeded_counter_carries_the_tags(telemetry: Telemetry) -> None:
    client = openai_client(Handler())
    with tags(team="support", feature="triage"), budget(requests=1, name="per-ticket"):
        ask_openai(client)
        for _ in range(3):
            with pytest.raises(BudgetExceeded):
                ask_openai(client)
    assert telemetry.total(EXCEEDED, **{"ai.cost.team": "support", "ai.cost.budget.name": "per-ticket"}) == 3


def test_warn_sends_logs_once_and_counts(telemetry: Telemetry, caplog: pytest.LogCaptureFixture) -> None:
    handler = Handler()
    client = openai_client(handler)
    with (
        caplog.at_level(logging.WARNING, logger="otel_ai_cost.budgets"),
        budget(requests=1, on_exceed="warn", name="soft") as limit,
    ):
        for _ in range(3):
            ask_openai(client)
    assert len(handler.seen) == 3
    assert limit.spent.requests == 3
    warnings = [r.getMessage() for r in caplog.records if "soft" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "exceeded" in warnings[0]
    # the 2nd and 3rd were sent over the budget
    assert telemetry.total(EXCEEDED, **{"ai.cost.budget.name": "soft", "ai.cost.budget.action": "warn"}) == 2


def test_tokens_limit_counts_input_and_output(telemetry: Telemetry) -> None:
    handler = Handler()
    openai_sdk, anthropic_sdk = openai_client(handler), anthropic_client(handler)
    with budget(tokens=2500, name="tokens") as limit:
        ask_openai(openai_sdk)  # 1000 + 500 = 1500
        ask_anthropic(anthropic_sdk)  # + 1000 + 200 = 2700 >= 2500
        with pytest.raises(BudgetExceeded) as raised:
            ask_openai(openai_sdk)
    assert (raised.value.limit_kind, raised.value.spent) == ("tokens", 2700)
    assert (limit.spent.input_tokens, limit.spent.output_tokens) == (2000, 700)
    assert limit.spent.usd == pytest.approx(OPENAI_COST + ANTHROPIC_COST)  # 0.00045 + 0.006 = 0.00645
    assert len(handler.seen) == 2


def test_failed_requests_count_as_requests(telemetry: Telemetry) -> None:
    handler = Handler()
    client = openai_client(handler)
    with budget(requests=2, name="attempts") as limit:
        with pytest.raises(Exception, match="server had an error"):
            ask_openai(client, model="fail")
        ask_openai(client)
        with pytest.raises(BudgetExceeded):
            ask_openai(client)
    assert (limit.spent.requests, limit.spent.usd) == (2, pytest.approx(OPENAI_COST))


def test_unpriced_requests_add_no_usd(telemetry: Telemetry) -> None:
    client = openai_client(Handler())
    with budget(usd=0.0001, name="unknown-model") as limit:
        ask_openai(client, model=UNKNOWN_MODEL)
        ask_openai(client, model=UNKNOWN_MODEL)  # still sent: an unknown price adds no USD
    assert (limit.spent.usd, limit.spent.requests, limit.spent.unpriced_requests) == (0.0, 2, 2)
    assert limit.spent.tokens == 3000  # 2 x (1000 + 500)


def test_nested_budgets_each_hold(telemetry: Telemetry) -> None:
    handler = Handler()
    client = openai_client(handler)
    with budget(requests=3, name="outer") as outer:
        with budget(requests=1, name="inner") as inner:
            ask_openai(client)
            with pytest.raises(BudgetExceeded) as raised:
                ask_openai(client)
            assert raised.value.budget_name == "inner"
        ask_openai(client)
        ask_openai(client)
        with pytest.raises(BudgetExceeded) as raised:
            ask_openai(client)
        assert raised.value.budget_name == "outer"
    assert (outer.spent.requests, inner.spent.requests) == (3, 1)
    assert len(handler.seen) == 3


def test_a_budget_entered_again_inside_itself_counts_each_request_once(telemetry: Telemetry) -> None:
    """A helper entering the budget its caller entered (`with team_budget:` at both levels)."""
    handler = Handler()
    client = openai_client(handler)
    team_budget = budget(usd=0.0008, name="team")

    def helper() -> None:
        with team_budget:
            ask_openai(client)

    with team_budget:
        helper()  # 0.00045 spent, once: under 0.0008
        helper()  # allowed; 2 x 0.00045 = 0.0009 spent
        with pytest.raises(BudgetExceeded) as raised:
            helper()
    assert raised.value.spent == pytest.approx(0.0009)
    assert team_budget.spent.requests == 2 and len(handler.seen) == 2
    assert telemetry.total(EXCEEDED, **{"ai.cost.budget.name": "team"}) == 1


def test_an_inner_budget_cannot_lift_a_spent_outer_one(telemetry: Telemetry) -> None:
    client = openai_client(Handler())
    with budget(requests=1, name="outer"):
        ask_openai(client)
        with budget(usd=100, name="generous"), pytest.raises(BudgetExceeded) as raised:
            ask_openai(client)
    assert raised.value.budget_name == "outer"


def test_threads_with_a_copied_context_share_the_budget(telemetry: Telemetry) -> None:
    handler = Handler()
    client = openai_client(handler)
    with budget(requests=100, name="fan-out") as limit:
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(ask_openai, client)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert limit.spent.requests == 8
    assert limit.spent.usd == pytest.approx(8 * OPENAI_COST)  # 8 x 0.00045 = 0.0036
    assert limit.spent.tokens == 8 * 1500


def test_asyncio_tasks_share_the_budget_and_a_spent_one_stops_them(telemetry: Telemetry) -> None:
    handler = Handler()
    client = async_openai_client(handler)

    async def run() -> list[object]:
        with budget(requests=4, name="tasks") as limit:
            await asyncio.gather(*(ask_openai_async(client) for _ in range(4)))
            results = await asyncio.gather(*(ask_openai_async(client) for _ in range(2)), return_exceptions=True)
        assert limit.spent.requests == 4
        return results

    results = asyncio.run(run())
    assert all(isinstance(result, BudgetExceeded) for result in results), results
    assert len(handler.seen) == 4


def test_decorator_gives_each_call_its_own_budget(telemetry: Telemetry) -> None:
    client = openai_client(Handler())

    @budget(requests=1, name="per-call")
    def answer() -> str:
        return str(ask_openai(client).choices[0].message.content)

    @budget(requests=1, name="per-call-async")
    async def answer_async() -> None:
        async_client = async_openai_client(Handler())
        await ask_openai_async(async_client)
        await ask_openai_async(async_client)

    assert answer() == answer() == "Routed to billing."  # a second call is not over the first call's budget
    with pytest.raises(BudgetExceeded):
        asyncio.run(answer_async())


def test_anthropic_wraps_it_in_a_connection_error_with_the_cause(telemetry: Telemetry) -> None:
    handler = Handler()
    client = anthropic_client(handler)
    with budget(requests=0, name="closed"), pytest.raises(anthropic.APIConnectionError) as raised:
        ask_anthropic(client)
    assert handler.seen == []
    found = BudgetExceeded.in_chain(raised.value)
    assert found is not None and found.budget_name == "closed"


def test_without_instrumentation_budgets_count_nothing_and_never_raise() -> None:
    AICostInstrumentor().uninstrument()
    handler = Handler()
    with budget(requests=0, name="inert") as limit:
        ask_openai(openai_client(handler))
    assert len(handler.seen) == 1
    assert limit.spent.requests == 0


def test_bad_limits_are_rejected_when_written() -> None:
    with pytest.raises(ValueError, match="at least one limit"):
        budget()
    with pytest.raises(ValueError, match="usd must be"):
        budget(usd=-1)
    with pytest.raises(ValueError, match="on_exceed"):
        budget(usd=1, on_exceed="explode")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not generators"):
        budget(usd=1)(lambda: (yield))


def test_the_exception_pickles_and_names_the_limit() -> None:
    error = pickle.loads(pickle.dumps(BudgetExceeded("triage", "usd", 0.5, 0.51)))
    assert (error.budget_name, error.limit_kind, error.limit, error.spent) == ("triage", "usd", 0.5, 0.51)
    assert str(error) == "budget 'triage' exceeded: spent $0.51 of $0.5"


def test_check_before_send_outside_any_budget_does_nothing(telemetry: Telemetry) -> None:
    recorder = AICostInstrumentor._active["recorder"]
    check_before_send(recorder)
    assert telemetry.points(EXCEEDED) == []


# ---------------------------------------------------------------- budgets per tag set, from a file


def test_the_alerts_budgets_file_is_the_process_budgets_file() -> None:
    example = Path(__file__).resolve().parents[2] / "dashboards" / "alerts" / "budgets.example.yaml"
    loaded = load_tag_budgets(str(example))
    assert [(b.name, b.tags, b.usd, b.period, b.on_exceed) for b in loaded] == [
        ("search", {"team": "search"}, 50, 86400, "warn"),  # period defaults to 1d, on_exceed to warn
        ("support", {"team": "support"}, 20, 86400, "warn"),
        ("research-production", {"team": "research", "environment": "production"}, 200, 86400, "warn"),
    ]


def test_a_file_budget_applies_to_every_request_with_its_tags(
    telemetry: Telemetry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(
        "budgets:\n"
        "  - {name: search-hourly, tags: {team: search}, usd: 0.0008, period: 1h, on_exceed: raise}\n"
        "  - {tags: {team: support, environment: test}, usd: 0.0001, warn_at: null}\n"
    )
    monkeypatch.setenv(ENV_BUDGETS_FILE, str(path))
    telemetry.reinstrument()
    handler = Handler()
    client = openai_client(handler)
    with tags(team="search", feature="answers"):
        ask_openai(client)  # 0.00045
        ask_openai(client)  # 0.0009 >= 0.0008 after this one
    with tags(team="search", feature="other"), pytest.raises(BudgetExceeded) as raised:
        ask_openai(client)  # another feature of the same team: the same budget
    assert (raised.value.budget_name, raised.value.spent) == ("search-hourly", pytest.approx(0.0009))
    with tags(team="marketing"):
        ask_openai(client)  # no budget of its own
    # support in environment test (the fixture's resource): warn, so it is sent
    with tags(team="support"):
        ask_openai(client)
        ask_openai(client)
    assert len(handler.seen) == 5
    assert telemetry.total(EXCEEDED, **{"ai.cost.budget.name": "search-hourly", "ai.cost.budget.action": "raise"}) == 1
    assert telemetry.total(EXCEEDED, **{"ai.cost.budget.name": "support/test", "ai.cost.budget.action": "warn"}) == 1


def test_a_bad_budgets_file_is_logged_and_enforces_nothing(
    telemetry: Telemetry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  - {name: broken, tags: {team: search}, usd: 5, on_exceed: explode}\n")
    monkeypatch.setenv(ENV_BUDGETS_FILE, str(path))
    with caplog.at_level(logging.ERROR):
        telemetry.reinstrument()
    assert any("budgets[0] (name=broken" in r.getMessage() and "on_exceed" in r.getMessage() for r in caplog.records)
    with tags(team="search"):
        ask_openai(openai_client(Handler()))
    assert len(telemetry.finished()) == 1


def test_two_budgets_named_alike_are_both_enforced_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(
        "budgets:\n"
        "  - {tags: {team: search}, usd: 50, period: 1d}\n"
        "  - {tags: {team: search}, usd: 1000, period: 30d}\n"
    )
    with caplog.at_level(logging.WARNING):
        loaded = load_tag_budgets(str(path))
    assert [(b.name, b.period) for b in loaded] == [("search", 86400), ("search", 30 * 86400)]
    assert any("budgets[1] is named 'search' like budgets[0]" in r.getMessage() for r in caplog.records)


def test_the_window_forgets_spend_older_than_the_period() -> None:
    now = [0.0]
    hourly = TagBudget(tags={"team": "search"}, usd=1.0, period=3600, on_exceed="raise", clock=lambda: now[0])
    hourly.add(0.6, 0, 0)
    now[0] = 1800.0
    hourly.add(0.5, 0, 0)
    assert hourly.spent.usd == pytest.approx(1.1)  # 0.6 + 0.5 within the hour
    assert hourly.exceeded() is not None
    now[0] = 3600.0 + 60.0  # one step (3600 / 60 s) past the first spend's hour
    assert hourly.spent.usd == pytest.approx(0.5)
    assert hourly.exceeded() is None
    now[0] = 1800.0 + 3600.0 + 60.0
    assert hourly.spent.usd == 0.0


def test_a_rolling_budget_in_warn_mode_warns_again_in_a_later_period(caplog: pytest.LogCaptureFixture) -> None:
    """A daily budget of a long-running server: the first day's warning had been the last one."""
    now = [0.0]
    hourly = TagBudget(tags={"team": "search"}, usd=1.0, period=3600, on_exceed="warn", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="otel_ai_cost"):
        hourly.add(1.1, 0, 0)
        for at in (10.0, 20.0):  # two requests over the budget within the hour: one line
            now[0] = at
            over = hourly.exceeded()
            assert over is not None
            hourly._warn_once(over)
        now[0] = 2 * 3600.0
        hourly.add(1.2, 0, 0)
        over = hourly.exceeded()
        assert over is not None
        hourly._warn_once(over)  # exceeded again, a period later: a line again
    lines = [record.getMessage() for record in caplog.records if "budget 'search' exceeded" in record.getMessage()]
    assert len(lines) == 2


def test_periods_are_prometheus_durations() -> None:
    assert period_seconds("1h30m") == 5400
    assert period_seconds("7d") == 7 * 86400
    assert period_seconds("1d") == 86400


def test_one_budget_object_entered_by_several_threads_at_once(telemetry: Telemetry) -> None:
    handler = Handler()
    client = openai_client(handler)
    shared = budget(requests=6, name="shared")
    entered = threading.Barrier(4)
    left_over: list[tuple[object, ...]] = []

    def worker() -> None:
        with shared:
            entered.wait()  # all four are inside the same object's block before any leaves it
            ask_openai(client)
        left_over.append(active_scopes())  # each thread left exactly its own block

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared.spent.requests == 4
    assert left_over == [()] * 4
    with shared:  # the context was restored in every thread: this one still sees exactly one budget
        ask_openai(client)
        ask_openai(client)
        with pytest.raises(BudgetExceeded):
            ask_openai(client)
    ask_openai(client)  # outside the block again
    assert len(handler.seen) == 7


def test_google_genai_lets_budget_exceeded_through(telemetry: Telemetry) -> None:
    from google import genai
    from google.genai import types

    seen: list[httpx2.Request] = []

    def gemini(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        body = {
            "candidates": [{"content": {"parts": [{"text": "Blue."}], "role": "model"}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 1000, "candidatesTokenCount": 500, "totalTokenCount": 1500},
            "modelVersion": "gemini-2.0-flash",
        }
        return httpx2.Response(200, json=body)

    http = httpx2.Client(transport=httpx2.MockTransport(gemini))
    client = genai.Client(api_key="test-key", http_options=types.HttpOptions(httpx_client=http))
    with budget(usd=0.0003, name="gemini") as limit:
        client.models.generate_content(model="gemini-2.0-flash", contents="why is the sky blue")
        with pytest.raises(BudgetExceeded):
            client.models.generate_content(model="gemini-2.0-flash", contents="and the sea?")
    # gemini-2.0-flash: 1000 x 0.10 + 500 x 0.40 = 100 + 200 = 300 per 1M
    assert limit.spent.usd == pytest.approx(0.0003)
    assert len(seen) == 1
