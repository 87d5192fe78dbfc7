"""OpenAI-compatible providers by host: routing, provider names, their usage fields, their prices.

Prices (USD per 1M tokens, genai-prices data = the providers' published prices):
- Groq llama-3.3-70b-versatile: input 0.59, output 0.79
- Mistral mistral-small-latest: input 0.15, output 0.60
- DeepSeek deepseek-chat: input (cache miss) 0.27, cache hit 0.07, output 1.10 (16:30-00:30 UTC:
  0.135 / 0.035 / 0.55)
- xAI grok-3-mini: input 0.30, cached 0.075, output 0.50
- Together meta-llama/Llama-3.3-70B-Instruct-Turbo: input 0.88, output 0.88
- Fireworks llama-v3p1-8b-instruct: input 0.20, output 0.20
- OpenRouter openai/gpt-4o-mini: input 0.15, output 0.60 (when the response states no cost)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from wire_testkit import assert_every_chunking, facts_for, parse_stream

from otel_ai_cost import PriceEngine, Usage
from otel_ai_cost.providers.base import ParsedResponse
from otel_ai_cost.providers.bfl import BFLProtocol
from otel_ai_cost.providers.openai import OpenAIProtocol
from otel_ai_cost.providers.routing import Router, parse_endpoint_map, route
from otel_ai_cost.providers.stability import StabilityProtocol

PEAK_HOURS = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
"""DeepSeek's standard (not off-peak) prices apply at noon UTC."""


@pytest.fixture(scope="module")
def engine() -> PriceEngine:
    return PriceEngine()


@pytest.mark.parametrize(
    ("host", "path", "provider"),
    [
        ("api.groq.com", "/openai/v1/chat/completions", "groq"),
        ("api.mistral.ai", "/v1/chat/completions", "mistral_ai"),
        ("api.mistral.ai", "/v1/embeddings", "mistral_ai"),
        ("api.deepseek.com", "/chat/completions", "deepseek"),
        ("api.deepseek.com", "/v1/chat/completions", "deepseek"),
        ("api.x.ai", "/v1/chat/completions", "x_ai"),
        ("api.together.xyz", "/v1/chat/completions", "together_ai"),
        ("api.fireworks.ai", "/inference/v1/chat/completions", "fireworks"),
        ("api.perplexity.ai", "/chat/completions", "perplexity"),
        ("openrouter.ai", "/api/v1/chat/completions", "openrouter"),
    ],
)
def test_openai_compatible_hosts_route_to_the_openai_parser_with_their_provider_name(
    host: str, path: str, provider: str
) -> None:
    parser = route(host, path)
    assert isinstance(parser, OpenAIProtocol)
    assert parser.provider == provider
    facts = parser.parse_request("POST", host, path, "application/json", b'{"model": "m"}')
    assert facts is not None and facts.provider == provider


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("api.groq.com", "/v1/chat/completions"),  # Groq's API is under /openai/v1
        ("api.fireworks.ai", "/v1/chat/completions"),
        ("openrouter.ai", "/chat/completions"),
        ("openrouter.ai", "/docs/quickstart"),
        ("api.x.ai", "/healthz"),
        ("groq.com", "/openai/v1/chat/completions"),
        ("api.groq.com.example.org", "/openai/v1/chat/completions"),
        ("bfl.ai", "/v1/flux-dev"),
        ("api.stability.ai", "/v1/generation/x/text-to-image"),
    ],
)
def test_other_paths_and_look_alike_hosts_are_not_routed(host: str, path: str) -> None:
    assert route(host, path) is None


def test_image_apis_are_built_in_and_usable_in_the_endpoint_map() -> None:
    assert isinstance(route("api.stability.ai", "/v2beta/stable-image/generate/ultra"), StabilityProtocol)
    for host in ("api.bfl.ai", "api.bfl.ml", "api.eu.bfl.ai", "api.us1.bfl.ai"):
        assert isinstance(route(host, "/v1/flux-pro-1.1"), BFLProtocol), host
    router = Router(parse_endpoint_map("https://img.corp/stability=stability, https://img.corp/flux=bfl:flux_proxy"))
    stability = router.route("img.corp", "/stability/v2beta/stable-image/generate/core")
    bfl = router.route("img.corp", "/flux/v1/flux-dev")
    assert isinstance(stability, StabilityProtocol) and stability.provider == "stability_ai"
    assert isinstance(bfl, BFLProtocol) and bfl.provider == "flux_proxy"


@pytest.mark.parametrize(
    ("provider", "model", "usage", "expected"),
    [
        # 1000 x 0.59 + 200 x 0.79 = 590 + 158 = 748 per 1M
        ("groq", "llama-3.3-70b-versatile", (1000, 0, 200), 0.000748),
        # 2000 x 0.15 + 500 x 0.60 = 300 + 300 = 600 per 1M
        ("mistral_ai", "mistral-small-latest", (2000, 0, 500), 0.0006),
        # 176 x 0.27 + 1024 x 0.07 + 300 x 1.10 = 47.52 + 71.68 + 330 = 449.2 per 1M
        ("deepseek", "deepseek-chat", (1200, 1024, 300), 0.0004492),
        # 476 x 0.30 + 1024 x 0.075 + 800 x 0.50 = 142.8 + 76.8 + 400 = 619.6 per 1M
        ("x_ai", "grok-3-mini", (1500, 1024, 800), 0.0006196),
        # (1000 + 1000) x 0.88 = 1760 per 1M
        ("together_ai", "meta-llama/Llama-3.3-70B-Instruct-Turbo", (1000, 0, 1000), 0.00176),
        # (3000 + 1000) x 0.20 = 800 per 1M
        ("fireworks", "accounts/fireworks/models/llama-v3p1-8b-instruct", (3000, 0, 1000), 0.0008),
        # 1000 x 0.15 + 100 x 0.60 = 150 + 60 = 210 per 1M
        ("openrouter", "openai/gpt-4o-mini", (1000, 0, 100), 0.00021),
    ],
)
def test_a_known_model_of_each_provider_is_priced_from_the_catalog(
    engine: PriceEngine, provider: str, model: str, usage: tuple[int, int, int], expected: float
) -> None:
    inputs, cached, outputs = usage
    cost = engine.price(
        Usage(
            provider=provider,
            request_model=model,
            input_tokens=inputs,
            cache_read_tokens=cached,
            output_tokens=outputs,
            request_time=PEAK_HOURS,
        )
    )
    assert cost.priced, cost.unpriced_reason
    assert cost.price_source == "genai-prices"
    assert cost.total_usd == pytest.approx(expected)


XAI = OpenAIProtocol("x_ai")


@pytest.mark.parametrize("stream", [False, True])
def test_xai_reasoning_tokens_counted_beside_completion_tokens_are_output(engine: PriceEngine, stream: bool) -> None:
    """xAI's usage counts Grok's reasoning beside `completion_tokens`, not in them; `total_tokens`
    includes them (xAI's docs; Google's page on Grok on Vertex AI says the same). xAI's own example:
    prompt 32 + completion 9 + reasoning 94 = total 135."""
    usage = {
        "prompt_tokens": 32,
        "completion_tokens": 9,
        "total_tokens": 135,
        "prompt_tokens_details": {"text_tokens": 32, "cached_tokens": 6},
        "completion_tokens_details": {"reasoning_tokens": 94},
    }
    request = {"model": "grok-3-mini", "messages": [], "stream": stream}
    facts = facts_for(XAI, "/v1/chat/completions", request, host="api.x.ai")
    body = {"id": "x", "object": "chat.completion", "model": "grok-3-mini", "choices": [], "usage": usage}
    if stream:
        events = b"data: " + json.dumps(body).encode() + b"\n\ndata: [DONE]\n\n"
        parsed = parse_stream(XAI.stream_parser(facts), [events])
    else:
        parsed = XAI.parse_response(facts, json.dumps(body).encode())
    assert (parsed.usage.input_tokens, parsed.usage.cache_read_tokens) == (32, 6)
    assert (parsed.usage.output_tokens, parsed.usage.reasoning_tokens) == (9 + 94, 94)
    parsed.usage.request_time = PEAK_HOURS
    # 26 x 0.30 + 6 x 0.075 + 103 x 0.50 = 7.8 + 0.45 + 51.5 = 59.75 per 1M
    assert engine.price(parsed.usage).total_usd == pytest.approx(0.00005975)


def test_openai_reasoning_tokens_inside_completion_tokens_are_not_added_again() -> None:
    """OpenAI's `completion_tokens` include the reasoning: the total is prompt + completion."""
    usage = {
        "prompt_tokens": 32,
        "completion_tokens": 103,
        "total_tokens": 135,
        "completion_tokens_details": {"reasoning_tokens": 94},
    }
    openai = OpenAIProtocol()
    facts = facts_for(openai, "/v1/chat/completions", {"model": "o4-mini", "messages": []})
    body = {"id": "x", "object": "chat.completion", "model": "o4-mini", "choices": [], "usage": usage}
    parsed = openai.parse_response(facts, json.dumps(body).encode())
    assert (parsed.usage.output_tokens, parsed.usage.reasoning_tokens) == (103, 94)


def test_perplexity_sonar_is_in_the_catalog(engine: PriceEngine) -> None:
    cost = engine.price(Usage(provider="perplexity", request_model="sonar", input_tokens=1000, output_tokens=100))
    assert cost.priced and cost.price_source == "genai-prices" and cost.model == "sonar"


DEEPSEEK = OpenAIProtocol("deepseek")
DEEPSEEK_RESPONSE = {
    "id": "930c60df-bf64-41c9-a88e-3ec75f81e00e",
    "object": "chat.completion",
    "created": 1737000000,
    "model": "deepseek-chat",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "logprobs": None, "finish_reason": "stop"}
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "prompt_cache_hit_tokens": 1024,
        "prompt_cache_miss_tokens": 176,
    },
    "system_fingerprint": "fp_3a5770e1b4_prod0225",
}


def test_deepseek_prompt_cache_hit_tokens_are_cache_reads(engine: PriceEngine) -> None:
    request = {"model": "deepseek-chat", "messages": []}
    facts = facts_for(DEEPSEEK, "/chat/completions", request, host="api.deepseek.com")
    without_details = json.loads(json.dumps(DEEPSEEK_RESPONSE))
    del without_details["usage"]["prompt_tokens_details"]  # older responses carry only DeepSeek's own fields
    for body in (DEEPSEEK_RESPONSE, without_details):
        parsed = DEEPSEEK.parse_response(facts, json.dumps(body).encode())
        assert parsed.usage == Usage(
            provider="deepseek",
            request_model="deepseek-chat",
            response_model="deepseek-chat",
            input_tokens=1200,
            cache_read_tokens=1024,
            output_tokens=300,
        )
    parsed.usage.request_time = PEAK_HOURS
    # 176 x 0.27 + 1024 x 0.07 + 300 x 1.10 = 449.2 per 1M
    assert engine.price(parsed.usage).total_usd == pytest.approx(0.0004492)


OPENROUTER = OpenAIProtocol("openrouter")


def openrouter_usage(**extra: object) -> dict[str, object]:
    return {
        "prompt_tokens": 194,
        "completion_tokens": 2,
        "total_tokens": 196,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 100, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
        "cost": 0.00095,
        **extra,
    }


def test_openrouter_cost_in_the_response_is_the_price(engine: PriceEngine) -> None:
    facts = facts_for(
        OPENROUTER,
        "/api/v1/chat/completions",
        {"model": "anthropic/claude-sonnet-4.5", "messages": [], "usage": {"include": True}},
        host="openrouter.ai",
    )
    body = {
        "id": "gen-1761234567-AbCdEfGhIjKlMnOp",
        "provider": "Anthropic",
        "model": "anthropic/claude-sonnet-4.5",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi"}}],
        "usage": openrouter_usage(),
    }
    parsed = OPENROUTER.parse_response(facts, json.dumps(body).encode())
    usage = parsed.usage
    assert (usage.input_tokens, usage.cache_write_tokens, usage.output_tokens) == (194, 100, 2)
    assert usage.provider_reported_cost == pytest.approx(0.00095)
    cost = engine.price(usage)
    assert (cost.priced, cost.total_usd, cost.price_source) == (True, pytest.approx(0.00095), "provider")


def test_openrouter_byok_adds_the_upstream_inference_cost() -> None:
    facts = facts_for(OPENROUTER, "/api/v1/chat/completions", {"model": "openai/gpt-4o"}, host="openrouter.ai")
    body = {
        "model": "openai/gpt-4o",
        "usage": openrouter_usage(cost=0.0001, is_byok=True, cost_details={"upstream_inference_cost": 0.002}),
    }
    # OpenRouter's 5% fee 0.0001 + what OpenAI billed the user's own key 0.002 = 0.0021
    assert OPENROUTER.parse_response(facts, json.dumps(body).encode()).usage.provider_reported_cost == pytest.approx(
        0.0021
    )


@pytest.mark.parametrize("cost", ["0.01", True, -1, None, 1e9, {"total": 1}])
def test_a_cost_that_is_not_a_believable_number_is_ignored(cost: object) -> None:
    facts = facts_for(OPENROUTER, "/api/v1/chat/completions", {"model": "openai/gpt-4o-mini"}, host="openrouter.ai")
    body = {"model": "openai/gpt-4o-mini", "usage": openrouter_usage(cost=cost)}
    usage = OPENROUTER.parse_response(facts, json.dumps(body).encode()).usage
    assert usage.provider_reported_cost is None and usage.input_tokens == 194


def test_cache_reads_and_writes_together_never_exceed_the_input() -> None:
    facts = facts_for(OPENROUTER, "/api/v1/chat/completions", {"model": "openai/gpt-4o"}, host="openrouter.ai")
    counts = openrouter_usage(prompt_tokens_details={"cached_tokens": 150, "cache_write_tokens": 100})
    usage = OPENROUTER.parse_response(facts, json.dumps({"usage": counts}).encode()).usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (194, 150, 44)


def test_usage_cost_of_other_providers_is_not_taken_as_the_price() -> None:
    groq = OpenAIProtocol("groq")
    facts = facts_for(groq, "/openai/v1/chat/completions", {"model": "llama-3.3-70b-versatile"}, host="api.groq.com")
    body = {"model": "llama-3.3-70b-versatile", "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cost": 9.0}}
    assert groq.parse_response(facts, json.dumps(body).encode()).usage.provider_reported_cost is None


def sse(*events: dict[str, object]) -> bytes:
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"


def chunk(model: str, content: str | None, finish: str | None = None, **extra: object) -> dict[str, object]:
    delta = {} if content is None else {"content": content}
    return {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def test_openrouter_stream_reads_the_cost_of_the_last_chunk() -> None:
    facts = facts_for(
        OPENROUTER,
        "/api/v1/chat/completions",
        {"model": "openai/gpt-4o-mini", "stream": True, "messages": []},
        host="openrouter.ai",
    )
    stream = sse(
        chunk("openai/gpt-4o-mini", "Hel"),
        chunk("openai/gpt-4o-mini", "lo"),
        chunk("openai/gpt-4o-mini", None, "stop"),
        {**chunk("openai/gpt-4o-mini", None), "choices": [], "usage": openrouter_usage(cost=0.0000321)},
    )
    parsed = parse_stream(OPENROUTER.stream_parser(facts), [stream])
    assert parsed.usage.provider_reported_cost == pytest.approx(0.0000321)
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens, parsed.finish_reasons) == (194, 2, ("stop",))
    assert_every_chunking(OPENROUTER, facts, stream, parsed)


def test_groq_stream_usage_in_x_groq() -> None:
    groq = OpenAIProtocol("groq")
    facts = facts_for(
        groq,
        "/openai/v1/chat/completions",
        {"model": "llama-3.3-70b-versatile", "stream": True, "messages": []},
        host="api.groq.com",
    )
    model = "llama-3.3-70b-versatile"
    x_groq_usage = {
        "queue_time": 0.02,
        "prompt_tokens": 48,
        "prompt_time": 0.004,
        "completion_tokens": 12,
        "completion_time": 0.04,
        "total_tokens": 60,
        "total_time": 0.044,
    }
    stream = sse(
        chunk(model, "", x_groq={"id": "req_01jbd6g2qdfw2adyrt2az8hz4w"}),
        chunk(model, "Hi"),
        chunk(model, None, "stop", x_groq={"id": "req_01jbd6g2qdfw2adyrt2az8hz4w", "usage": x_groq_usage}),
    )
    parsed = parse_stream(groq.stream_parser(facts), [stream])
    assert parsed == ParsedResponse(
        usage=Usage(
            provider="groq",
            request_model=model,
            response_model=model,
            input_tokens=48,
            output_tokens=12,
        ),
        response_id="gen-1",
        finish_reasons=("stop",),
        content_events=1,
    )


def test_perplexity_reports_its_total_cost_including_the_request_fee(engine: PriceEngine) -> None:
    perplexity = OpenAIProtocol("perplexity")
    facts = facts_for(perplexity, "/chat/completions", {"model": "sonar", "messages": []}, host="api.perplexity.ai")
    body = {
        "id": "3c7b0c1e-1f5a-4a8e-9d7c-2b4f6e8a0c1d",
        "model": "sonar",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "..."}}],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 300,
            "total_tokens": 312,
            "search_context_size": "low",
            # 12 x $1/1M + 300 x $1/1M + $5 per 1000 requests (low context) = 0.000012 + 0.0003 + 0.005
            "cost": {
                "input_tokens_cost": 0.000012,
                "output_tokens_cost": 0.0003,
                "request_cost": 0.005,
                "total_cost": 0.005312,
            },
        },
    }
    usage = perplexity.parse_response(facts, json.dumps(body).encode()).usage
    assert usage.provider_reported_cost == pytest.approx(0.005312)
    assert engine.price(usage).total_usd == pytest.approx(0.005312)
