"""Many requests at once through the other two transports: 16 threads sending with `requests` (one
session each, `stream=False` and `stream=True`) to a loopback server, and 16 threads sharing one
boto3 bedrock-runtime client calling Converse. Per team, the cost and token counters equal the sum
of the per-request figures computed by hand; one span per request, unique, all ended.

Prices (USD per 1M tokens): gpt-4o-mini input 0.15, output 0.60 (OpenAI); Amazon Nova Lite on
Bedrock input 0.06, output 0.24. Cost totals are float sums in thread order: compared to 1e-9.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from otel_testkit import serving
from robustkit import Instrumented
from test_bedrock_boto3 import FakeBedrock, bedrock_client
from test_concurrency_totals import CHAT, CHAT_COST
from test_requests_garbage import URLS, Answer, GarbageServer, LoopbackAdapter

from otel_ai_cost import tags

THREADS = 16
ROUNDS = 4
TEAMS = 4
PER_TEAM = THREADS // TEAMS * ROUNDS  # 4 threads x 4 rounds = 16 rounds per team

NOVA_LITE = "us.amazon.nova-lite-v1:0"
CONVERSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 3000, "outputTokens": 500, "totalTokens": 3500},
    "metrics": {"latencyMs": 420},
}
# 3000 x 0.06 + 500 x 0.24 = 180 + 120 = 300 per 1M
CONVERSE_COST = 0.0003


def team_of(index: int) -> str:
    return f"team-{index % TEAMS}"


def run_threads(work: Callable[[int], Any]) -> list[Any]:
    """`work(index)` on THREADS threads started together; what each returned, in index order."""
    start = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            with tags(team=team_of(index)):
                results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    return results


def assert_team_totals(instrumented: Instrumented, cost: float, tokens_in: int, tokens_out: int) -> None:
    teams = {(team_of(index),) for index in range(TEAMS)}
    costs = instrumented.sums_by("gen_ai.client.cost", "ai.cost.team")
    assert set(costs) == teams
    for team, total in costs.items():
        assert total == pytest.approx(cost, rel=1e-9), team
    tokens = instrumented.sums_by("ai.cost.tokens", "ai.cost.team", "ai.cost.token.type")
    assert tokens == {
        **{(team, "input"): tokens_in for (team,) in teams},
        **{(team, "output"): tokens_out for (team,) in teams},
    }
    assert instrumented.points("ai.cost.unpriced") == []
    assert instrumented.points("ai.cost.internal_errors") == []


@pytest.fixture(scope="module")
def openai_server() -> Iterator[GarbageServer]:
    with serving(GarbageServer()) as server:
        server.answer = Answer(200, "application/json", json.dumps(CHAT).encode(), "none")
        yield server


def test_16_threads_sending_with_requests(instrumented: Instrumented, openai_server: GarbageServer) -> None:
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}

    def work(index: int) -> int:
        session = requests.Session()
        session.mount("https://", LoopbackAdapter(openai_server.server_address[1]))
        prompt_tokens = 0
        for _ in range(ROUNDS):
            prompt_tokens += session.post(URLS["openai"], json=payload, timeout=30).json()["usage"]["prompt_tokens"]
            with session.post(URLS["openai"], json=payload, stream=True, timeout=30) as response:
                body = b"".join(response.iter_content(64))
            prompt_tokens += json.loads(body)["usage"]["prompt_tokens"]
        return prompt_tokens

    # the caller saw every response whole: 4 rounds x 2 requests x 1000 prompt tokens per thread
    assert run_threads(work) == [8000] * THREADS
    instrumented.ledger.assert_balanced(THREADS * ROUNDS * 2)
    # 16 rounds x 2 requests x (1000 x 0.15 + 200 x 0.60 per 1M = 0.00027) = 32 x 0.00027 = 0.00864 USD per team
    assert PER_TEAM * 2 * CHAT_COST == pytest.approx(0.00864)
    assert_team_totals(instrumented, 0.00864, tokens_in=32 * 1000, tokens_out=32 * 200)


class BusyBedrock(FakeBedrock):
    request_queue_size = 64  # connections from many threads at once wait to be accepted, not refused


@pytest.fixture(scope="module")
def bedrock_server() -> Iterator[FakeBedrock]:
    with serving(BusyBedrock()) as server:
        yield server


def test_16_threads_sharing_a_boto3_client(instrumented: Instrumented, bedrock_server: FakeBedrock) -> None:
    bedrock_server.answers[:] = []
    for _ in range(THREADS * ROUNDS):
        bedrock_server.answer(CONVERSE)
    client = bedrock_client(bedrock_server)
    messages: Any = [{"role": "user", "content": [{"text": "hi"}]}]

    def work(index: int) -> int:
        return sum(client.converse(modelId=NOVA_LITE, messages=messages)["usage"]["inputTokens"] for _ in range(ROUNDS))

    assert run_threads(work) == [4 * 3000] * THREADS
    assert bedrock_server.answers == [] and len(bedrock_server.requests) == THREADS * ROUNDS
    instrumented.ledger.assert_balanced(THREADS * ROUNDS)
    # 16 calls x (3000 x 0.06 + 500 x 0.24 per 1M = 0.0003) = 0.0048 USD per team
    assert PER_TEAM * CONVERSE_COST == pytest.approx(0.0048)
    assert_team_totals(instrumented, 0.0048, tokens_in=16 * 3000, tokens_out=16 * 500)
