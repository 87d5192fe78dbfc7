"""The real openai SDK pointed at Groq, DeepSeek, OpenRouter and Azure AI Foundry Models base URLs,
through httpx2.MockTransport.

Prices (USD per 1M tokens): Groq llama-3.3-70b-versatile input 0.59, output 0.79; DeepSeek
deepseek-chat input (cache miss) 0.27, cache hit 0.07, output 1.10, and half of each
16:30-00:30 UTC (0.135, 0.035, 0.55). OpenRouter: the cost its response states. Phi-4 on Azure
AI Foundry: input 0.125, output 0.50.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx2
import openai
import pytest

if TYPE_CHECKING:
    from .conftest import Telemetry


def sdk(base_url: str, answer: dict[str, Any] | bytes, seen: list[httpx2.Request]) -> openai.OpenAI:
    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if isinstance(answer, bytes):
            return httpx2.Response(200, content=answer, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=answer)

    return openai.OpenAI(
        api_key="sk-test-not-a-real-key",
        base_url=base_url,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handle)),
    )


def completion(model: str, usage: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-gw-1",
        "object": "chat.completion",
        "created": 1733000000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": usage,
        **extra,
    }


MESSAGES: list[Any] = [{"role": "user", "content": "hello"}]


def test_groq_base_url(telemetry: Telemetry) -> None:
    seen: list[httpx2.Request] = []
    usage = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200, "queue_time": 0.01}
    client = sdk("https://api.groq.com/openai/v1", completion("llama-3.3-70b-versatile", usage), seen)
    client.chat.completions.create(model="llama-3.3-70b-versatile", messages=MESSAGES)
    assert str(seen[0].url) == "https://api.groq.com/openai/v1/chat/completions"
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "groq"
    # 1000 x 0.59 + 200 x 0.79 = 590 + 158 = 748 per 1M
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.000748)
    assert attributes["ai.cost.price_source"] == "genai-prices"


def test_azure_ai_foundry_models_inference_endpoint(telemetry: Telemetry) -> None:
    seen: list[httpx2.Request] = []
    usage = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}
    client = sdk("https://contoso.services.ai.azure.com/models", completion("Phi-4", usage), seen)
    client.chat.completions.create(model="Phi-4", messages=MESSAGES, extra_query={"api-version": "2024-05-01-preview"})
    assert seen[0].url.path == "/models/chat/completions"
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "azure.ai.inference"
    # 1200 x 0.125 + 300 x 0.50 = 150 + 150 = 300 per 1M
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.0003)


def test_deepseek_base_url_with_cache_hits(telemetry: Telemetry) -> None:
    seen: list[httpx2.Request] = []
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_cache_hit_tokens": 1024,
        "prompt_cache_miss_tokens": 176,
    }
    client = sdk("https://api.deepseek.com", completion("deepseek-chat", usage), seen)
    client.chat.completions.create(model="deepseek-chat", messages=MESSAGES)
    assert str(seen[0].url) == "https://api.deepseek.com/chat/completions"
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "deepseek"
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 1024
    # standard: 176 x 0.27 + 1024 x 0.07 + 300 x 1.10 = 47.52 + 71.68 + 330 = 449.2 per 1M
    # off-peak: 176 x 0.135 + 1024 x 0.035 + 300 x 0.55 = 23.76 + 35.84 + 165 = 224.6 per 1M
    assert attributes["gen_ai.usage.cost.amount"] in (pytest.approx(0.0004492), pytest.approx(0.0002246))


def test_openrouter_stream_cost_as_stated(telemetry: Telemetry) -> None:
    seen: list[httpx2.Request] = []
    model = "anthropic/claude-sonnet-4.5"

    def chunk(**fields: Any) -> bytes:
        event = {"id": "gen-1761234567", "object": "chat.completion.chunk", "created": 1, "model": model, **fields}
        return b"data: " + json.dumps(event).encode() + b"\n\n"

    stream = (
        b": OPENROUTER PROCESSING\n\n"
        + chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}])
        + chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
        + chunk(
            choices=[],
            usage={
                "prompt_tokens": 194,
                "completion_tokens": 2,
                "total_tokens": 196,
                "cost": 0.000612,
                "is_byok": False,
                "prompt_tokens_details": {"cached_tokens": 0},
                "cost_details": {"upstream_inference_cost": None},
            },
        )
        + b"data: [DONE]\n\n"
    )
    client = sdk("https://openrouter.ai/api/v1", stream, seen)
    pieces = list(
        client.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, extra_body={"usage": {"include": True}}
        )
    )
    assert pieces[0].choices[0].delta.content == "Hi"
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.provider.name"] == "openrouter"
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.000612)  # as OpenRouter states it
    assert attributes["ai.cost.price_source"] == "provider"
    assert attributes["gen_ai.usage.input_tokens"] == 194
