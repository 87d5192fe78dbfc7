"""Many requests at once: 32 threads sharing real openai and anthropic clients, and 1,000 concurrent
async streams. Per team, the cost and token counters equal the sum of the per-request figures
computed by hand; one span per request, unique, all ended.

Prices (USD per 1M tokens): gpt-4o-mini input 0.15, output 0.60; claude-sonnet-4-6 input 3,
output 15.

Counter sums are floats added in whatever order the threads finish, so cost totals are compared to
a relative 1e-9: one request is at least 1/400 of a team's total, far above that. Token and request
counts are ints and compared exactly.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from robustkit import Instrumented, Pieces

from otel_ai_cost import tags

THREADS = 32
ROUNDS = 4
TEAMS = 8

CHAT = {
    "id": "chatcmpl-7",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
}
# 1000 x 0.15 + 200 x 0.60 = 150 + 120 = 270 per 1M
CHAT_COST = 0.00027

MESSAGE = {
    "id": "msg_7",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 2000, "output_tokens": 100},
}
# 2000 x 3 + 100 x 15 = 6000 + 1500 = 7500 per 1M
MESSAGE_COST = 0.0075


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": choices,
        "usage": usage,
    }


STREAM_EVENTS = [
    chunk({"role": "assistant", "content": ""}),
    *[chunk({"content": f"w{i} "}) for i in range(5)],
    chunk({}, finish="stop"),
    chunk({}, usage={"prompt_tokens": 400, "completion_tokens": 50, "total_tokens": 450}),
]
# 400 x 0.15 + 50 x 0.60 = 60 + 30 = 90 per 1M
STREAM_COST = 0.00009
STREAM_PIECES = [b"data: " + json.dumps(event).encode() + b"\n\n" for event in STREAM_EVENTS] + [b"data: [DONE]\n\n"]
"""One SSE event per piece of the body: a reader that stops after the first chunk has not
received the usage (the last event) yet."""


def respond(request: httpx2.Request) -> httpx2.Response:
    if request.url.path.endswith("/messages"):
        return httpx2.Response(200, json=MESSAGE)
    if json.loads(request.content).get("stream"):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=Pieces(STREAM_PIECES))
    return httpx2.Response(200, json=CHAT)


async def respond_async(request: httpx2.Request) -> httpx2.Response:
    await asyncio.sleep(0)
    return respond(request)


def team_of(index: int, teams: int) -> str:
    return f"team-{index % teams}"


def test_32_threads_on_shared_clients(instrumented: Instrumented) -> None:
    transport = httpx2.MockTransport(respond)
    chat = openai.OpenAI(api_key="sk-test", http_client=httpx2.Client(transport=transport), max_retries=0)
    claude = anthropic.Anthropic(api_key="sk-ant-test", http_client=httpx2.Client(transport=transport), max_retries=0)
    messages: Any = [{"role": "user", "content": "hi"}]
    start = threading.Barrier(THREADS)
    results: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            start.wait()
            seen = [0, 0, 0]
            with tags(team=team_of(index, TEAMS)):
                for _ in range(ROUNDS):
                    seen[0] += chat.chat.completions.create(model="gpt-4o-mini", messages=messages).usage.prompt_tokens  # type: ignore[union-attr]
                    seen[1] += claude.messages.create(
                        model="claude-sonnet-4-6", max_tokens=64, messages=messages
                    ).usage.input_tokens
                    stream = chat.chat.completions.create(
                        model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
                    )
                    seen[2] += sum(1 for _ in stream)
            results.append((seen[0], seen[1], seen[2]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    # the caller saw every response whole: 4 x 1000 prompt tokens, 4 x 2000, 4 x 8 chunks per thread
    assert results == [(4000, 8000, 32)] * THREADS

    requests = THREADS * ROUNDS * 3
    instrumented.ledger.assert_balanced(requests)
    per_team = THREADS // TEAMS * ROUNDS  # 4 threads x 4 rounds = 16 requests of each kind per team
    costs = instrumented.sums_by("gen_ai.client.cost", "ai.cost.team")
    # 16 x (0.00027 + 0.0075 + 0.00009) = 16 x 0.00786 = 0.12576 USD per team
    assert set(costs) == {(team_of(i, TEAMS),) for i in range(TEAMS)}
    for team, total in costs.items():
        assert total == pytest.approx(per_team * (CHAT_COST + MESSAGE_COST + STREAM_COST), rel=1e-9), team
        assert total == pytest.approx(0.12576, rel=1e-9)
    tokens = instrumented.sums_by("ai.cost.tokens", "ai.cost.team", "ai.cost.token.type")
    for index in range(TEAMS):
        team = team_of(index, TEAMS)
        assert tokens[(team, "input")] == per_team * (1000 + 2000 + 400) == 54_400
        assert tokens[(team, "output")] == per_team * (200 + 100 + 50) == 5_600
    assert set(tokens) == {(team_of(i, TEAMS), kind) for i in range(TEAMS) for kind in ("input", "output")}
    requests_by_team = instrumented.sums_by("ai.cost.requests", "ai.cost.team")
    assert requests_by_team == {(team_of(i, TEAMS),): per_team * 3 for i in range(TEAMS)}
    assert instrumented.points("ai.cost.unpriced") == []
    assert instrumented.points("ai.cost.internal_errors") == []


ASYNC_STREAMS = 1000
ASYNC_TEAMS = 4


def test_1000_concurrent_async_streams_some_closed_early(instrumented: Instrumented) -> None:
    client = openai.AsyncOpenAI(
        api_key="sk-test",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(respond_async)),
        max_retries=0,
    )
    messages: Any = [{"role": "user", "content": "hi"}]

    def closes_early(index: int) -> bool:
        return index % 3 == 0

    async def one(index: int) -> int:
        async with tags(team=team_of(index, ASYNC_TEAMS)):
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
            )
            chunks = 0
            try:
                async for _ in stream:
                    chunks += 1
                    if closes_early(index):
                        break  # after the first chunk: the usage (last event) has not arrived
            finally:
                await stream.close()
            return chunks

    async def run() -> list[int]:
        return await asyncio.gather(*(one(index) for index in range(ASYNC_STREAMS)))

    seen = asyncio.run(run())
    assert seen == [1 if closes_early(index) else 8 for index in range(ASYNC_STREAMS)]

    instrumented.ledger.assert_balanced(ASYNC_STREAMS)
    full = {team_of(t, ASYNC_TEAMS): 0 for t in range(ASYNC_TEAMS)}
    early = dict(full)
    for index in range(ASYNC_STREAMS):
        (early if closes_early(index) else full)[team_of(index, ASYNC_TEAMS)] += 1
    # 1000 streams: 334 closed early (index % 3 == 0), 666 read to the end
    assert sum(full.values()) == 666 and sum(early.values()) == 334
    costs = instrumented.sums_by("gen_ai.client.cost", "ai.cost.team")
    for team, count in full.items():
        assert costs[(team,)] == pytest.approx(count * STREAM_COST, rel=1e-9), team  # count x 0.00009 USD
    tokens = instrumented.sums_by("ai.cost.tokens", "ai.cost.team", "ai.cost.token.type")
    for team, count in full.items():
        assert tokens[(team, "input")] == count * 400 and tokens[(team, "output")] == count * 50
    unpriced = instrumented.sums_by("ai.cost.unpriced", "ai.cost.team", "ai.cost.unpriced_reason")
    assert unpriced == {(team, "no_usage"): count for team, count in early.items()}
    requests_by_team = instrumented.sums_by("ai.cost.requests", "ai.cost.team")
    assert requests_by_team == {(team,): full[team] + early[team] for team in full}
    assert instrumented.points("ai.cost.internal_errors") == []


def test_a_cancelled_drain_after_done_keeps_the_cost(instrumented: Instrumented) -> None:
    """Regression: after [DONE], openai drains the rest of the body under `anyio.move_on_after(0.1)`.
    When that times out (a slow server, a busy loop) the cancellation lands in our tee, which
    recorded the stream as failed (error.type CancelledError, no cost) although the caller got the
    whole completion and the usage had arrived. It is the caller stopping, like closing early."""
    trailer = b": the server keeps the connection busy after [DONE]\n\n"

    async def slow_after_done(request: httpx2.Request) -> httpx2.Response:
        body = Pieces([*STREAM_PIECES, trailer], pause_before_last=5.0)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    client = openai.AsyncOpenAI(
        api_key="sk-test",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(slow_after_done)),
        max_retries=0,
    )

    async def run() -> int:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        return len([chunk async for chunk in stream])

    assert asyncio.run(run()) == 8
    instrumented.ledger.assert_balanced(1)
    (span,) = instrumented.spans.get_finished_spans()
    assert span.attributes is not None and "error.type" not in span.attributes
    assert span.attributes["gen_ai.usage.cost.amount"] == pytest.approx(STREAM_COST)  # 400 x 0.15 + 50 x 0.60 per 1M
