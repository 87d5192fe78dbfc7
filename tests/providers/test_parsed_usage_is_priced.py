"""What the parsers produce is what the price engine expects: provider names, models, token split.

Expected costs by hand from published list prices (USD per 1M tokens / per image).
"""

from __future__ import annotations

import pytest
from wire_testkit import facts_for, fixture, parse_stream

from otel_ai_cost import PriceEngine
from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.gemini import GeminiProtocol
from otel_ai_cost.providers.openai import OpenAIProtocol

OPENAI = OpenAIProtocol()
ANTHROPIC = AnthropicProtocol()
VERTEX = GeminiProtocol("gcp.vertex_ai")
GEMINI = GeminiProtocol()


GEMINI_HOST = "generativelanguage.googleapis.com"


@pytest.fixture(scope="module")
def engine() -> PriceEngine:
    return PriceEngine()


def test_anthropic_cache_reads_and_both_cache_write_lifetimes(engine: PriceEngine) -> None:
    facts = facts_for(ANTHROPIC, "/v1/messages", {"model": "claude-sonnet-4-5"}, host="api.anthropic.com")
    cost = engine.price(ANTHROPIC.parse_response(facts, fixture("anthropic_message_cache.json")).usage)
    # claude-sonnet-4-5: input 3.00, cache read 0.30, 5m write 3.75, 1h write 6.00, output 15.00
    # (24 x 3 + 12040 x 0.30 + 1180 x 3.75 + 2010 x 6 + 512 x 15) / 1M = 27849 / 1M
    assert cost.priced and cost.total_usd == pytest.approx(0.027849)


def test_openai_cached_and_reasoning_tokens(engine: PriceEngine) -> None:
    facts = facts_for(OPENAI, "/v1/chat/completions", {"model": "o4-mini"})
    cost = engine.price(OPENAI.parse_response(facts, fixture("openai_chat_cached_reasoning.json")).usage)
    # o4-mini: input 1.10, cached 0.275, output 4.40 (reasoning tokens are output tokens)
    # ((2006 - 1920) x 1.10 + 1920 x 0.275 + 1275 x 4.40) / 1M = 6232.6 / 1M
    assert cost.priced and cost.total_usd == pytest.approx(0.0062326)


def test_openai_fast_is_priority_processing_renamed(engine: PriceEngine) -> None:
    """OpenAI renamed priority processing "fast" (2026-07); newer models echo `service_tier: fast`."""
    facts = facts_for(OPENAI, "/v1/responses", {"model": "gpt-6.1-sol", "service_tier": "fast"})
    body = (
        b'{"id":"resp_3","object":"response","status":"completed","model":"gpt-6.1-sol","service_tier":"fast",'
        b'"output":[],"usage":{"input_tokens":10000,"input_tokens_details":{"cached_tokens":0},'
        b'"output_tokens":1000,"output_tokens_details":{"reasoning_tokens":200},"total_tokens":11000}}'
    )
    cost = engine.price(OPENAI.parse_response(facts, body).usage)
    # gpt-6.1-sol fast/priority: input 4, output 20 (standard 2, 10): 10000 x 4 + 1000 x 20 = 60000 per 1M
    assert cost.priced and cost.total_usd == pytest.approx(0.06)
    assert cost.commitment == "priority" and not cost.estimated


def test_gemini_image_and_video_input_at_their_own_rates(engine: PriceEngine) -> None:
    path = "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-embedding-2:embedContent"
    facts = facts_for(VERTEX, path, {}, host="us-central1-aiplatform.googleapis.com")
    body = (
        b'{"embedding":{"values":[0.1]},"usageMetadata":{"promptTokenCount":5000,"totalTokenCount":5000,'
        b'"promptTokensDetails":[{"modality":"TEXT","tokenCount":200},{"modality":"IMAGE","tokenCount":800},'
        b'{"modality":"VIDEO","tokenCount":4000}]}}'
    )
    cost = engine.price(VERTEX.parse_response(facts, body).usage)
    # gemini-embedding-2: text 0.20, image 0.45, video 12 per 1M (it had all gone at the text rate, $0.001)
    # 200 x 0.20 + 800 x 0.45 + 4000 x 12 = 40 + 360 + 48000 = 48400 per 1M
    assert cost.priced and cost.total_usd == pytest.approx(0.0484)


def test_gemini_video_output_at_its_own_rate(engine: PriceEngine) -> None:
    facts = facts_for(GEMINI, "/v1beta/models/gemini-omni-1.1-flash:generateContent", {}, host=GEMINI_HOST)
    body = (
        b'{"candidates":[{"finishReason":"STOP","content":{"parts":[{"inlineData":{"mimeType":"video/mp4",'
        b'"data":"AA"}}]}}],"usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":20000,'
        b'"totalTokenCount":20100,"promptTokensDetails":[{"modality":"TEXT","tokenCount":100}],'
        b'"candidatesTokensDetails":[{"modality":"VIDEO","tokenCount":19950},{"modality":"TEXT","tokenCount":50}]},'
        b'"modelVersion":"gemini-omni-1.1-flash"}'
    )
    cost = engine.price(GEMINI.parse_response(facts, body).usage)
    # gemini-omni-1.1-flash: input 1.50, output 9, video output 17.50 per 1M
    # 100 x 1.50 + 50 x 9 + 19950 x 17.50 = 150 + 450 + 349125 = 349725 per 1M
    assert cost.priced and cost.total_usd == pytest.approx(0.349725)


def test_dall_e_3_images(engine: PriceEngine) -> None:
    facts = facts_for(
        OPENAI, "/v1/images/generations", {"model": "dall-e-3", "n": 2, "size": "1792x1024", "quality": "hd"}
    )
    cost = engine.price(OPENAI.parse_response(facts, fixture("openai_dalle3_n2_hd.json")).usage)
    assert cost.priced and cost.total_usd == pytest.approx(0.24)  # 2 x $0.12


def test_gpt_image_1_tokens(engine: PriceEngine) -> None:
    facts = facts_for(OPENAI, "/v1/images/generations", {"model": "gpt-image-1"})
    cost = engine.price(OPENAI.parse_response(facts, fixture("openai_gpt_image_1.json")).usage)
    # gpt-image-1: text input 5.00, image output 40.00: (50 x 5 + 6240 x 40) / 1M
    assert cost.priced and cost.total_usd == pytest.approx(0.24985)


def test_streams_are_priced(engine: PriceEngine) -> None:
    facts = facts_for(OPENAI, "/v1/responses", {"model": "gpt-4.1", "stream": True})
    usage = parse_stream(OPENAI.stream_parser(facts), [fixture("openai_responses_stream.sse")]).usage
    assert engine.price(usage).priced
    facts = facts_for(
        ANTHROPIC, "/v1/messages", {"model": "claude-haiku-4-5", "stream": True}, host="api.anthropic.com"
    )
    usage = parse_stream(ANTHROPIC.stream_parser(facts), [fixture("anthropic_stream.sse")]).usage
    assert engine.price(usage).priced
