"""Image requests through the engine, as the instrumentation will price them.

Per-image prices from the bundled table (sources in image_prices.json): DALL-E 3 hd 1792x1024
$0.12; Stable Image Ultra 8 credits x $0.01; FLUX.2 [pro] $0.03 the first megapixel + $0.015
each further one. gpt-image-1 is billed by tokens (input 5.00, output 40.00 per 1M).
"""

from __future__ import annotations

import pytest

from otel_ai_cost import Operation, PriceEngine, Usage


@pytest.fixture(scope="module")
def engine() -> PriceEngine:
    return PriceEngine()


def image(provider: str, model: str, n: int = 1, size: str | None = None, quality: str | None = None) -> Usage:
    return Usage(
        provider=provider,
        operation=Operation.IMAGE_GENERATION,
        request_model=model,
        image_count=n,
        image_size=size,
        image_quality=quality,
    )


@pytest.mark.parametrize("provider", ["openai", "azure.ai.openai"])
def test_dall_e_3_n_images_by_size_and_quality(engine: PriceEngine, provider: str) -> None:
    cost = engine.price(image(provider, "dall-e-3", 2, "1792X1024", "hd"))
    # 2 x $0.12 = $0.24
    assert cost.priced and cost.price_source == "otel-ai-cost-images"
    assert cost.total_usd == pytest.approx(0.24)
    assert cost.breakdown is not None and cost.breakdown.images_usd == pytest.approx(0.24)


def test_unpriced_size_is_explicit(engine: PriceEngine) -> None:
    cost = engine.price(image("openai", "dall-e-3", 1, "640x480", "standard"))
    assert not cost.priced and cost.unpriced_reason == "unknown_image_size"


def test_stability_credits(engine: PriceEngine) -> None:
    cost = engine.price(image("stability_ai", "ultra", 3))
    # 3 images x 8 credits x $0.01 = $0.24
    assert cost.total_usd == pytest.approx(0.24)


def test_flux_2_per_megapixel(engine: PriceEngine) -> None:
    one_mp = engine.price(image("black_forest_labs", "flux-2-pro", 1, "1024x1024"))
    two_mp = engine.price(image("black_forest_labs", "flux-2-pro", 2, "1440x1440"))
    # 1024 x 1024 = 1 MP: $0.03
    assert one_mp.total_usd == pytest.approx(0.03)
    # 1440 x 1440 = 1.98 MP -> 2 billed: 2 images x (0.03 + 0.015) = $0.09
    assert two_mp.total_usd == pytest.approx(0.09)


def test_token_billed_image_model_uses_tokens(engine: PriceEngine) -> None:
    cost = engine.price(
        Usage(
            provider="openai",
            operation=Operation.IMAGE_GENERATION,
            request_model="gpt-image-1",
            input_tokens=50,
            output_tokens=4160,
            output_image_tokens=4160,
            image_count=1,
            image_size="1024x1024",
        )
    )
    # 50 x 5.00 + 4160 x 40.00 = 250 + 166400 = 166650 per 1M
    assert cost.price_source == "genai-prices"
    assert cost.total_usd == pytest.approx(166_650 / 1_000_000)
