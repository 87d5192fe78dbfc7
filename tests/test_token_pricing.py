"""Token pricing against published list prices, each expected cost worked out by hand.

Prices used (USD per 1M tokens, from the providers' pricing pages, as carried by genai-prices):
- gpt-4o-mini: input 0.15, cached input 0.075, output 0.60
- gpt-4o (OpenAI and Azure): input 2.50, cached input 1.25, output 10.00
- gpt-5: input 1.25, cached 0.125, output 10; flex 0.625 / 0.0625 / 5; priority 2.50 / 0.25 / 20
- o3-mini: input 1.10, output 4.40; batch 0.55 / 2.20
- claude-sonnet-4-5: input 3, output 15, cache read 0.30, cache write 5 min 3.75, 1 h 6.00
- claude-3-5-haiku (Anthropic and Bedrock): input 0.80, cache read 0.08, output 4.00
- gemini-2.5-pro: input 1.25, output 10 up to 200k input tokens; 2.50 / 15 above
- gemini-2.5-flash: input 0.30 (audio 1.00), cached 0.03 (audio 0.10), output 2.50
- claude-sonnet-4-6: 3 / 15; before 2026-03-13 over 200k input 6 / 22.50
"""

from __future__ import annotations

from datetime import UTC

import pytest

from otel_ai_cost import PriceEngine, ServiceTier, UnpricedReason, Usage

M = 1_000_000


@pytest.fixture(scope="module")
def engine() -> PriceEngine:
    return PriceEngine()


def usage(model: str, provider: str = "openai", **tokens: int | str) -> Usage:
    return Usage(provider=provider, request_model=model, **tokens)  # type: ignore[arg-type]


def test_cached_input_is_billed_at_the_cache_read_price(engine: PriceEngine) -> None:
    cost = engine.price(usage("gpt-4o-mini", input_tokens=1200, cache_read_tokens=1024, output_tokens=300))
    # 176 x 0.15 + 1024 x 0.075 + 300 x 0.60 = 26.4 + 76.8 + 180 = 283.2 per 1M
    assert cost.priced and cost.price_source == "genai-prices" and cost.model == "gpt-4o-mini"
    assert cost.total_usd == pytest.approx(283.2 / M)
    assert cost.list_usd == pytest.approx(283.2 / M)
    assert cost.breakdown is not None
    assert cost.breakdown.input_usd == pytest.approx(26.4 / M)
    assert cost.breakdown.cached_input_usd == pytest.approx(76.8 / M)
    assert cost.breakdown.output_usd == pytest.approx(180 / M)
    # the cache hits saved 1024 x (0.15 - 0.075) = 76.8 per 1M
    assert cost.savings_usd == pytest.approx(76.8 / M)


def test_anthropic_cache_writes_5_minute_and_1_hour(engine: PriceEngine) -> None:
    cost = engine.price(
        usage(
            "claude-sonnet-4-5",
            "anthropic",
            input_tokens=6000,
            cache_read_tokens=500,
            cache_write_tokens=1000,
            cache_write_1h_tokens=4000,
            output_tokens=800,
        )
    )
    # uncached 6000 - 500 - 1000 - 4000 = 500
    # 500 x 3 + 500 x 0.30 + 1000 x 3.75 + 4000 x 6 + 800 x 15 = 1500 + 150 + 3750 + 24000 + 12000 = 41400
    assert cost.total_usd == pytest.approx(41400 / M)
    assert cost.breakdown is not None
    assert cost.breakdown.cache_write_usd == pytest.approx(27750 / M)
    # savings: 500 x (3 - 0.30) = 1350; the write premium is cost, not negative savings
    assert cost.savings_usd == pytest.approx(1350 / M)


def test_long_context_tier_prices_the_whole_request(engine: PriceEngine) -> None:
    short = engine.price(usage("gemini-2.5-pro", "gcp.gemini", input_tokens=100_000, output_tokens=2000))
    long = engine.price(usage("gemini-2.5-pro", "gcp.gemini", input_tokens=250_000, output_tokens=2000))
    # 100000 x 1.25 + 2000 x 10 = 125000 + 20000 = 145000
    assert short.total_usd == pytest.approx(145_000 / M)
    # above 200k every token is at the long-context tier: 250000 x 2.50 + 2000 x 15 = 625000 + 30000
    assert long.total_usd == pytest.approx(655_000 / M)


def test_reasoning_tokens_are_billed_as_output(engine: PriceEngine) -> None:
    cost = engine.price(usage("o3-mini", input_tokens=2000, output_tokens=3500, reasoning_tokens=3000))
    # output 3500 includes the 3000 reasoning tokens: 2000 x 1.10 + 3500 x 4.40 = 2200 + 15400
    assert cost.total_usd == pytest.approx(17_600 / M)


def test_batch_uses_the_catalog_batch_price(engine: PriceEngine) -> None:
    cost = engine.price(usage("o3-mini", input_tokens=2000, output_tokens=3500, service_tier=ServiceTier.BATCH))
    # 2000 x 0.55 + 3500 x 2.20 = 1100 + 7700 = 8800; standard would be 17600, saving 8800
    assert cost.total_usd == pytest.approx(8800 / M)
    assert cost.savings_usd == pytest.approx(8800 / M)
    assert not cost.estimated


def test_batch_without_a_catalog_price_is_half_price(engine: PriceEngine) -> None:
    # claude-3-5-haiku has no batch price in the catalog; Anthropic's Message Batches are 50% off.
    cost = engine.price(
        usage(
            "claude-3-5-haiku-latest",
            "anthropic",
            input_tokens=1200,
            cache_read_tokens=1024,
            output_tokens=300,
            service_tier="batch",
        )
    )
    # standard: 176 x 0.80 + 1024 x 0.08 + 300 x 4.00 = 140.8 + 81.92 + 1200 = 1422.72; half = 711.36
    assert cost.total_usd == pytest.approx(711.36 / M)
    # saved: cache hits at standard 1024 x (0.80 - 0.08) = 737.28 + batch discount 711.36 = 1448.64,
    # i.e. the no-cache standard price 1200 x 0.80 + 1200 = 2160 minus the 711.36 paid
    assert cost.savings_usd == pytest.approx(1448.64 / M)
    assert not cost.estimated


def test_flex_and_priority_tiers(engine: PriceEngine) -> None:
    flex = engine.price(usage("gpt-5", input_tokens=10_000, output_tokens=2000, service_tier="flex"))
    priority = engine.price(usage("gpt-5", input_tokens=10_000, output_tokens=2000, service_tier="priority"))
    # flex: 10000 x 0.625 + 2000 x 5 = 6250 + 10000 = 16250
    assert flex.total_usd == pytest.approx(16_250 / M) and not flex.estimated
    # priority: 10000 x 2.50 + 2000 x 20 = 25000 + 40000 = 65000
    assert priority.total_usd == pytest.approx(65_000 / M) and not priority.estimated


@pytest.mark.parametrize("first", ["before", "after"])
def test_a_tier_price_counts_only_from_its_start_date(first: str) -> None:
    from datetime import datetime

    engine = PriceEngine()
    days = {"before": datetime(2026, 6, 1, tzinfo=UTC), "after": datetime(2026, 12, 1, tzinfo=UTC)}
    order = [first, *(day for day in days if day != first)]
    costs = {
        day: engine.price(
            usage("gpt-5", input_tokens=10_000, output_tokens=2000, service_tier="flex", request_time=days[day])
        )
        for day in order
    }
    # gpt-5's flex price starts on 2026-10-12 in the catalog. Before, there is none: the standard
    # price 10000 x 1.25 + 2000 x 10 = 12500 + 20000 = 32500, flagged as an estimate
    assert costs["before"].total_usd == pytest.approx(32_500 / M) and costs["before"].estimated
    # after: 10000 x 0.625 + 2000 x 5 = 6250 + 10000 = 16250, whichever request was priced first
    assert costs["after"].total_usd == pytest.approx(16_250 / M) and not costs["after"].estimated


def test_tier_the_catalog_lacks_is_standard_price_marked_estimated(engine: PriceEngine) -> None:
    cost = engine.price(usage("o3-mini", input_tokens=2000, output_tokens=3500, service_tier="flex"))
    # no flex price for o3-mini: standard 17600, flagged as an estimate
    assert cost.total_usd == pytest.approx(17_600 / M)
    assert cost.estimated


def test_audio_without_an_audio_price_is_an_estimate(engine: PriceEngine) -> None:
    cost = engine.price(
        usage(
            "gpt-4o-audio-preview",
            input_tokens=1000,
            input_audio_tokens=800,
            output_tokens=500,
            output_audio_tokens=400,
        )
    )
    # the catalog lists gpt-4o-audio-preview's text prices only (2.50 in, 10 out): audio at those,
    # 1000 x 2.50 + 500 x 10 = 2500 + 5000 = 7500 per 1M, flagged (OpenAI lists audio at 40 / 80)
    assert cost.total_usd == pytest.approx(7500 / M) and cost.estimated
    text_only = engine.price(usage("gpt-4o-audio-preview", input_tokens=1000, output_tokens=500))
    assert text_only.total_usd == pytest.approx(7500 / M) and not text_only.estimated


def test_audio_on_a_model_with_one_input_price_is_exact(engine: PriceEngine) -> None:
    cost = engine.price(
        usage("gemini-2.5-pro", "gcp.gemini", input_tokens=1000, input_audio_tokens=400, output_tokens=100)
    )
    # Google bills gemini-2.5-pro one input price for all modalities: 1000 x 1.25 + 100 x 10 = 2250 per 1M
    assert cost.total_usd == pytest.approx(2250 / M) and not cost.estimated


def test_the_batch_discount_is_on_tokens_not_on_searches(engine: PriceEngine) -> None:
    # claude-3-5-haiku has no batch price in the catalog: Anthropic's 50 % applies to the tokens;
    # 1000 x 0.80 / 2 = 400 per 1M = $0.0004, and 10 searches x $10 / 1000 = $0.10 as always
    model = "claude-3-5-haiku-latest"
    cost = engine.price(usage(model, "anthropic", input_tokens=1000, web_search_requests=10, service_tier="batch"))
    assert cost.total_usd == pytest.approx(0.0004 + 0.10)


def test_cached_audio_uses_the_cached_audio_price(engine: PriceEngine) -> None:
    cost = engine.price(
        usage(
            "gemini-2.5-flash",
            "gcp.gemini",
            input_tokens=10_000,
            cache_read_tokens=6000,
            cache_read_audio_tokens=4000,
            input_audio_tokens=1000,
            output_tokens=500,
        )
    )
    # uncached 10000 - 6000 = 4000: 3000 text x 0.30 + 1000 audio x 1.00 = 900 + 1000 = 1900
    # cached: 2000 text x 0.03 + 4000 audio x 0.10 = 60 + 400 = 460; output 500 x 2.50 = 1250
    assert cost.total_usd == pytest.approx((1900 + 460 + 1250) / M)
    # saved: 2000 x (0.30 - 0.03) + 4000 x (1.00 - 0.10) = 540 + 3600 = 4140
    assert cost.savings_usd == pytest.approx(4140 / M)


def test_web_searches_are_priced_per_search(engine: PriceEngine) -> None:
    cost = engine.price(usage("claude-sonnet-4-5", "anthropic", input_tokens=1000, web_search_requests=3))
    # 1000 x 3 = 3000 per 1M = $0.003, and 3 searches x $10 / 1000 = $0.03
    assert cost.total_usd == pytest.approx(0.033) and not cost.estimated
    assert cost.breakdown is not None and cost.breakdown.tool_calls_usd == pytest.approx(0.03)


def test_file_searches_are_priced_per_call(engine: PriceEngine) -> None:
    cost = engine.price(usage("gpt-4.1", input_tokens=1000, file_search_requests=2, web_search_requests=1))
    # 1000 x 2.00 = 2000 per 1M = $0.002; 2 file searches x $2.50 / 1000 + 1 web search x $10 / 1000 = $0.015
    assert cost.total_usd == pytest.approx(0.002 + 0.015) and not cost.estimated
    assert cost.breakdown is not None and cost.breakdown.tool_calls_usd == pytest.approx(0.015)


def test_web_searches_without_a_catalog_price_make_an_estimate(engine: PriceEngine) -> None:
    model = "anthropic.claude-3-5-haiku-20241022-v1:0"
    cost = engine.price(usage(model, "aws.bedrock", input_tokens=1000, web_search_requests=1))
    # the catalog has no search price on Bedrock: the tokens alone, 1000 x 0.80 = 800 per 1M, flagged
    assert cost.total_usd == pytest.approx(800 / M) and cost.estimated


def test_audio_input_tokens_use_the_audio_price(engine: PriceEngine) -> None:
    cost = engine.price(
        usage("gemini-2.5-flash", "gcp.gemini", input_tokens=10_000, input_audio_tokens=4000, output_tokens=1000)
    )
    # 6000 text x 0.30 + 4000 audio x 1.00 + 1000 x 2.50 = 1800 + 4000 + 2500 = 8300
    assert cost.total_usd == pytest.approx(8300 / M)


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o-mini-2024-07-18"),
        ("openai", "GPT-4o-Mini"),
        ("openai", "openai/gpt-4o-mini"),
        ("azure.ai.openai", "gpt-4o-mini"),
    ],
)
def test_model_names_are_normalized(engine: PriceEngine, provider: str, model: str) -> None:
    cost = engine.price(usage(model, provider, input_tokens=1000, output_tokens=1000))
    # 1000 x 0.15 + 1000 x 0.60 = 750
    assert cost.total_usd == pytest.approx(750 / M)


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-3-5-haiku-20241022"),
        ("aws.bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        ("aws.bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0"),
        (
            "aws.bedrock",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
    ],
)
def test_bedrock_ids_regions_and_arns(engine: PriceEngine, provider: str, model: str) -> None:
    cost = engine.price(usage(model, provider, input_tokens=1000, output_tokens=100))
    # 1000 x 0.80 + 100 x 4.00 = 800 + 400 = 1200
    assert cost.total_usd == pytest.approx(1200 / M)


@pytest.mark.parametrize("model", ["models/gemini-2.5-flash", "publishers/google/models/gemini-2.5-flash"])
def test_gemini_resource_names(engine: PriceEngine, model: str) -> None:
    cost = engine.price(usage(model, "gcp.vertex_ai", input_tokens=1000, output_tokens=1000))
    # 1000 x 0.30 + 1000 x 2.50 = 2800
    assert cost.total_usd == pytest.approx(2800 / M)


def test_response_model_wins_over_request_model(engine: PriceEngine) -> None:
    cost = engine.price(
        Usage(
            provider="openai",
            request_model="gpt-4o",
            response_model="gpt-4o-mini-2024-07-18",
            input_tokens=1000,
            output_tokens=1000,
        )
    )
    assert cost.model == "gpt-4o-mini"
    assert cost.total_usd == pytest.approx(750 / M)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (usage("gpt-17-ultra", input_tokens=10, output_tokens=10), UnpricedReason.UNKNOWN_MODEL),
        (usage("some-model", "acme-ai", input_tokens=10, output_tokens=10), UnpricedReason.UNKNOWN_PROVIDER),
        (Usage(provider="openai", input_tokens=10), UnpricedReason.NO_MODEL),
        (usage("gpt-4o-mini"), UnpricedReason.NO_USAGE),
        # priced by the catalog per audio hour, per character, per page: not in tokens, never $0
        (usage("whisper-1", input_tokens=10, output_tokens=10), UnpricedReason.UNSUPPORTED_UNIT),
        (usage("tts-1", input_tokens=10), UnpricedReason.UNSUPPORTED_UNIT),
        (usage("mistral-ocr-latest", "mistral_ai", input_tokens=10), UnpricedReason.UNSUPPORTED_UNIT),
    ],
)
def test_unpriced_is_explicit_never_zero(engine: PriceEngine, record: Usage, reason: str) -> None:
    cost = engine.price(record)
    assert cost.priced is False
    assert cost.unpriced_reason == reason
    assert cost.breakdown is None


def test_an_audio_model_priced_in_tokens_is_priced(engine: PriceEngine) -> None:
    cost = engine.price(usage("gpt-4o-transcribe", input_tokens=1000, input_audio_tokens=1000, output_tokens=100))
    # 1000 audio input x 6.00 + 100 output x 10.00 = 6000 + 1000 = 7000 per 1M
    assert cost.priced and cost.total_usd == pytest.approx(7_000 / M)


def test_unknown_model_warns_once(engine: PriceEngine, caplog: pytest.LogCaptureFixture) -> None:
    fresh = PriceEngine()
    for _ in range(3):
        fresh.price(usage("gpt-unknown-42", input_tokens=1, output_tokens=1))
    warnings = [r for r in caplog.records if "gpt-unknown-42" in r.getMessage()]
    assert len(warnings) == 1


def test_provider_reported_cost_is_taken_as_is(engine: PriceEngine) -> None:
    cost = engine.price(
        Usage(
            provider="openrouter",
            request_model="anything/at-all",
            input_tokens=10,
            output_tokens=10,
            provider_reported_cost=0.00123,
        )
    )
    assert cost.priced and cost.total_usd == 0.00123 and cost.price_source == "provider"


def test_pricing_never_raises(engine: PriceEngine) -> None:
    hostile = Usage(provider="openai", request_model="gpt-4o-mini", input_tokens="lots", output_tokens=1)  # type: ignore[arg-type]
    cost = engine.price(hostile)
    assert cost.priced is False and cost.unpriced_reason == UnpricedReason.PRICING_ERROR


def test_historic_prices_follow_the_request_time(engine: PriceEngine) -> None:
    from datetime import datetime

    def at(day: str) -> float:
        when = datetime.fromisoformat(day).replace(tzinfo=UTC)
        return engine.price(
            usage("claude-sonnet-4-6", "anthropic", input_tokens=300_000, output_tokens=1000, request_time=when)
        ).total_usd

    # until 2026-03-13 input over 200k was billed at the long-context tier (6 in / 22.50 out):
    # 300000 x 6 + 1000 x 22.50 = 1,800,000 + 22,500 = 1,822,500 per 1M
    assert at("2026-02-01") == pytest.approx(1.8225)
    # from 2026-03-13 the tier was dropped: 300000 x 3 + 1000 x 15 = 915,000 per 1M
    assert at("2026-04-01") == pytest.approx(0.915)


def test_output_image_tokens_use_the_image_price(engine: PriceEngine) -> None:
    cost = engine.price(
        usage(
            "gemini-3-pro-image-preview", "gcp.gemini", input_tokens=100, output_tokens=1290, output_image_tokens=1290
        )
    )
    # gemini-3-pro-image-preview: input 2.00, image output 120.00 per 1M: 100 x 2 + 1290 x 120 = 200 + 154800
    assert cost.total_usd == pytest.approx(155_000 / M)
