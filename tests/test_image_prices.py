"""The bundled per-image price table, its loader and its lookups.

Every expected cost below is worked out by hand from the providers' published prices (USD):
- OpenAI DALL-E 2: 256x256 0.016, 512x512 0.018, 1024x1024 0.020
- OpenAI DALL-E 3: standard 1024x1024 0.04, 1024x1792 / 1792x1024 0.08;
  hd 1024x1024 0.08, 1024x1792 / 1792x1024 0.12 (Azure OpenAI falls back to these)
- Imagen 4 fast / standard / ultra: 0.02 / 0.04 / 0.06 (Vertex AI and Gemini API)
- Imagen 3: Vertex AI 0.04 (fast 0.02), Gemini API 0.03
- Bedrock Titan Image Generator G1 v1 and v2: standard 512x512 0.008, 1024x1024 0.010;
  premium 512x512 0.010, 1024x1024 0.012
- Bedrock Nova Canvas: up to 1024x1024 standard 0.04, premium 0.06; 2048x2048 standard 0.06, premium 0.08
- Bedrock Stability: Stable Image Ultra 0.14, Stable Image Core 0.04, SD3 Large 0.08, SD3.5 Large 0.08
- Stability AI platform, 1 credit = 0.01: Ultra 8, Core 3, SD3.5 Large 6.5, Large Turbo 4,
  Medium 3.5, Flash 2.5 credits
- Black Forest Labs: FLUX1.1 [pro] 0.04, [pro] Ultra 0.06, [pro] Raw 0.06, FLUX.1 [pro] 0.05,
  FLUX.1 [dev] 0.025, Kontext [pro] 0.04, Kontext [max] 0.08, Fill [pro] 0.05;
  FLUX.2 per megapixel (first / each further): [pro] 0.03 / 0.015, [flex] 0.05 / 0.05,
  [max] 0.07 / 0.03, [klein] 4B 0.014 / 0.001, [klein] 9B 0.015 / 0.002
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pydantic import ValidationError

from otel_ai_cost.pricing import image_catalog
from otel_ai_cost.pricing.cost import PriceSource
from otel_ai_cost.pricing.engine import megapixels
from otel_ai_cost.pricing.image_catalog import ImageCatalog, load_image_table
from otel_ai_cost.pricing.rates import ModelPrices
from otel_ai_cost.pricing.schema import ImageTable

PROVIDERS = {
    "openai",
    "azure.ai.openai",
    "gcp.vertex_ai",
    "gcp.gemini",
    "aws.bedrock",
    "stability_ai",
    "black_forest_labs",
}


@pytest.fixture(scope="module")
def table() -> ImageTable:
    return load_image_table()


@pytest.fixture(scope="module")
def catalog(table: ImageTable) -> ImageCatalog:
    return ImageCatalog(table)


# --- the bundled table --------------------------------------------------------------------


def test_bundled_table_validates_and_covers_every_provider(table: ImageTable) -> None:
    assert table.schema_version == 1
    assert {entry.provider for entry in table.models} == PROVIDERS - {"azure.ai.openai"}
    assert len(table.models) >= 30


def test_every_entry_names_an_https_source_and_an_effective_date(table: ImageTable) -> None:
    for entry in table.models:
        assert entry.source.startswith("https://"), entry.model
        assert " " not in entry.source, entry.model
        assert isinstance(entry.effective_date, date), entry.model
        assert date(2022, 1, 1) <= entry.effective_date <= date.today(), entry.model


def test_model_ids_and_aliases_are_lower_case_and_unique_per_provider(table: ImageTable) -> None:
    seen: set[tuple[str, str]] = set()
    for entry in table.models:
        for name in (entry.model, *entry.aliases):
            assert name == name.lower() == name.strip(), name
            assert (entry.provider, name) not in seen, name
            seen.add((entry.provider, name))


def test_size_keys_are_width_x_height_or_star(table: ImageTable) -> None:
    for entry in table.models:
        for price in entry.prices:
            if price.size != "*":
                width, _, height = price.size.partition("x")
                assert width.isdigit() and height.isdigit(), (entry.model, price.size)


def test_stability_platform_prices_are_in_credits_at_one_cent(table: ImageTable) -> None:
    stability = [entry for entry in table.models if entry.provider == "stability_ai"]
    assert stability
    for entry in stability:
        assert entry.usd_per_credit == 0.01, entry.model
        assert all(price.credits is not None for price in entry.prices), entry.model


def test_unconfirmed_figures_say_so_in_a_note(table: ImageTable) -> None:
    # Figures that could not be read from a public price page carry a note saying so.
    must_be_flagged = {
        ("aws.bedrock", "stability.stable-image-ultra-v1:1"),
        ("aws.bedrock", "amazon.nova-canvas-v1:0"),
        ("stability_ai", "sd3.5-flash"),
        ("black_forest_labs", "flux-pro"),
    }
    notes = {(entry.provider, entry.model): entry.note or "" for entry in table.models}
    for key in must_be_flagged:
        assert "Unconfirmed" in notes[key], key


# --- expected costs, by hand ----------------------------------------------------------------


class Case(NamedTuple):
    provider: str
    model: str
    size: str | None
    quality: str | None
    images: int
    megapixels: float | None
    expected: float


COST_CASES = [
    # DALL-E 2: 3 x 0.016 = 0.048; 1 x 0.018; 2 x 0.020 = 0.040
    Case("openai", "dall-e-2", "256x256", None, 3, None, 0.048),
    Case("openai", "dall-e-2", "512x512", None, 1, None, 0.018),
    Case("openai", "dall-e-2", "1024x1024", None, 2, None, 0.040),
    # DALL-E 3 standard: 1 x 0.04; 1 x 0.08; 3 x 0.08 = 0.24 (quality omitted means standard)
    Case("openai", "dall-e-3", "1024x1024", "standard", 1, None, 0.04),
    Case("openai", "dall-e-3", "1024x1792", "standard", 1, None, 0.08),
    Case("openai", "dall-e-3", "1792x1024", None, 3, None, 0.24),
    # DALL-E 3 hd: 1 x 0.08; 1 x 0.12; 2 x 0.12 = 0.24
    Case("openai", "dall-e-3", "1024x1024", "hd", 1, None, 0.08),
    Case("openai", "dall-e-3", "1024x1792", "HD", 1, None, 0.12),
    Case("openai", "dall-e-3", "1792x1024", "hd", 2, None, 0.24),
    # Azure OpenAI at OpenAI's list price: 1 x 0.12; 5 x 0.020 = 0.10
    Case("azure.ai.openai", "dall-e-3", "1024x1792", "hd", 1, None, 0.12),
    Case("azure.ai.openai", "dall-e-2", "1024x1024", None, 5, None, 0.10),
    # Imagen on Vertex AI: 4 x 0.04 = 0.16; 1 x 0.02; 2 x 0.06 = 0.12; 1 x 0.04; 3 x 0.04 = 0.12; 4 x 0.02 = 0.08
    Case("gcp.vertex_ai", "imagen-4.0-generate-001", None, None, 4, None, 0.16),
    Case("gcp.vertex_ai", "imagen-4.0-fast-generate-001", "1408x768", None, 1, None, 0.02),
    Case("gcp.vertex_ai", "imagen-4.0-ultra-generate-001", "2048x2048", None, 2, None, 0.12),
    Case("gcp.vertex_ai", "imagen-3.0-generate-002", "1024x1024", None, 1, None, 0.04),
    Case("gcp.vertex_ai", "imagen-3.0-generate-001", None, None, 3, None, 0.12),
    Case("gcp.vertex_ai", "imagen-3.0-fast-generate-001", None, None, 4, None, 0.08),
    # Imagen on the Gemini API: 1 x 0.04; 4 x 0.02 = 0.08; 1 x 0.06; 2 x 0.03 = 0.06
    Case("gcp.gemini", "imagen-4.0-generate-001", None, None, 1, None, 0.04),
    Case("gcp.gemini", "imagen-4.0-fast-generate-001", None, None, 4, None, 0.08),
    Case("gcp.gemini", "imagen-4.0-ultra-generate-001", None, None, 1, None, 0.06),
    Case("gcp.gemini", "imagen-3.0-generate-002", None, None, 2, None, 0.06),
    # Titan G1 v1: 1 x 0.008; 1 x 0.010; 2 x 0.010 = 0.020; 3 x 0.012 = 0.036
    Case("aws.bedrock", "amazon.titan-image-generator-v1", "512x512", "standard", 1, None, 0.008),
    Case("aws.bedrock", "amazon.titan-image-generator-v1", "1024x1024", None, 1, None, 0.010),
    Case("aws.bedrock", "amazon.titan-image-generator-v1", "512x512", "premium", 2, None, 0.020),
    Case("aws.bedrock", "amazon.titan-image-generator-v1", "1024x1024", "premium", 3, None, 0.036),
    # Titan v2: 4 x 0.008 = 0.032; 1 x 0.010; 1 x 0.010; 2 x 0.012 = 0.024
    Case("aws.bedrock", "amazon.titan-image-generator-v2:0", "512x512", "standard", 4, None, 0.032),
    Case("aws.bedrock", "amazon.titan-image-generator-v2:0", "1024x1024", "standard", 1, None, 0.010),
    Case("aws.bedrock", "amazon.titan-image-generator-v2:0", "512x512", "premium", 1, None, 0.010),
    Case("aws.bedrock", "amazon.titan-image-generator-v2:0", "1024x1024", "premium", 2, None, 0.024),
    # Nova Canvas: 1 x 0.04; 2 x 0.04 = 0.08; 1 x 0.06; 1 x 0.06; 3 x 0.06 = 0.18; 2 x 0.08 = 0.16
    Case("aws.bedrock", "amazon.nova-canvas-v1:0", "1024x1024", "standard", 1, None, 0.04),
    Case("aws.bedrock", "amazon.nova-canvas-v1:0", "512x512", None, 2, None, 0.08),
    Case("aws.bedrock", "amazon.nova-canvas-v1:0", "1024x1024", "premium", 1, None, 0.06),
    Case("aws.bedrock", "amazon.nova-canvas-v1:0", "512x512", "premium", 1, None, 0.06),
    Case("aws.bedrock", "amazon.nova-canvas-v1:0", "2048x2048", "standard", 3, None, 0.18),
    Case("aws.bedrock", "amazon.nova-canvas-v1:0", "2048x2048", "premium", 2, None, 0.16),
    # Stability on Bedrock: 1 x 0.14; 3 x 0.04 = 0.12; 1 x 0.08; 2 x 0.08 = 0.16
    Case("aws.bedrock", "stability.stable-image-ultra-v1:1", None, None, 1, None, 0.14),
    Case("aws.bedrock", "stability.stable-image-core-v1:1", None, None, 3, None, 0.12),
    Case("aws.bedrock", "stability.sd3-large-v1:0", None, None, 1, None, 0.08),
    Case("aws.bedrock", "stability.sd3-5-large-v1:0", None, None, 2, None, 0.16),
    # Stability platform: 8 cr x 0.01 = 0.08; 2 x 3 cr x 0.01 = 0.06; 6.5 cr x 0.01 = 0.065;
    # 4 cr x 0.01 = 0.04; 3.5 cr x 0.01 = 0.035; 4 x 2.5 cr x 0.01 = 0.10
    Case("stability_ai", "stable-image-ultra", None, None, 1, None, 0.08),
    Case("stability_ai", "stable-image-core", None, None, 2, None, 0.06),
    Case("stability_ai", "sd3.5-large", None, None, 1, None, 0.065),
    Case("stability_ai", "sd3.5-large-turbo", None, None, 1, None, 0.04),
    Case("stability_ai", "sd3.5-medium", None, None, 1, None, 0.035),
    Case("stability_ai", "sd3.5-flash", None, None, 4, None, 0.10),
    # FLUX per image: 2 x 0.04 = 0.08; 0.06; 0.06; 0.05; 4 x 0.025 = 0.10; 0.04; 0.08; 0.05
    Case("black_forest_labs", "flux-pro-1.1", "1024x768", None, 2, 0.786432, 0.08),
    Case("black_forest_labs", "flux-pro-1.1-ultra", "2752x1536", None, 1, 4.227072, 0.06),
    Case("black_forest_labs", "flux-pro-1.1-raw", None, None, 1, None, 0.06),
    Case("black_forest_labs", "flux-pro", None, None, 1, None, 0.05),
    Case("black_forest_labs", "flux-dev", None, None, 4, None, 0.10),
    Case("black_forest_labs", "flux-kontext-pro", None, None, 1, None, 0.04),
    Case("black_forest_labs", "flux-kontext-max", None, None, 1, None, 0.08),
    Case("black_forest_labs", "flux-pro-1.0-fill", None, None, 1, None, 0.05),
    # FLUX.2 per megapixel, whole megapixels rounded up:
    # [pro] 1440x1440 = 2,073,600 px / 1,048,576 px per MP = 1.98 MP -> 2 billed: 0.03 + 0.015 = 0.045
    # (BFL's own response for this size reports output_mp 1.98 and 4.5 credits = $0.045)
    Case("black_forest_labs", "flux-2-pro", "1440x1440", None, 1, 1.9775390625, 0.045),
    # [pro] n=2 at exactly 4 MP: 2 x (0.03 + 3 x 0.015) = 2 x 0.075 = 0.15
    Case("black_forest_labs", "flux-2-pro", None, None, 2, 4.0, 0.15),
    # [flex] 1.5 MP -> 2 billed: 0.05 + 1 x 0.05 = 0.10
    Case("black_forest_labs", "flux-2-flex", None, None, 1, 1.5, 0.10),
    # [max] 2.07 MP -> 3 billed: 0.07 + 2 x 0.03 = 0.13
    Case("black_forest_labs", "flux-2-max", None, None, 1, 2.0736, 0.13),
    # [klein] 4B at 4 MP: 0.014 + 3 x 0.001 = 0.017
    Case("black_forest_labs", "flux-2-klein-4b", None, None, 1, 4.0, 0.017),
    # [klein] 9B 0.5 MP -> at least 1 billed: 3 x 0.015 = 0.045
    Case("black_forest_labs", "flux-2-klein-9b", None, None, 3, 0.5, 0.045),
]


@pytest.mark.parametrize("case", COST_CASES, ids=lambda c: f"{c.provider}:{c.model}:{c.size}:{c.quality}:{c.images}")
def test_expected_cost(catalog: ImageCatalog, case: Case) -> None:
    prices = catalog.lookup(case.provider, case.model)
    assert prices is not None
    rate = prices.image_rate(case.size, case.quality)
    assert rate is not None
    assert rate.cost(case.images, case.megapixels, None) == pytest.approx(case.expected)


def test_every_model_and_every_price_row_has_a_hand_checked_cost(table: ImageTable, catalog: ImageCatalog) -> None:
    # A model or a price row added to the table without a worked example above fails here.
    checked: set[tuple[str, str, str, str]] = set()
    for case in COST_CASES:
        prices = catalog.lookup(case.provider, case.model)
        assert prices is not None
        rate = prices.image_rate(case.size, case.quality)
        keys = [key for key, value in prices.images.items() if value is rate]
        assert len(keys) == 1
        provider = "openai" if case.provider == "azure.ai.openai" else case.provider
        checked.add((provider, prices.model, *keys[0]))
    rows = {
        (entry.provider, entry.model, price.size, price.quality.lower())
        for entry in table.models
        for price in entry.prices
    }
    assert rows - checked == set()


def test_sizes_and_qualities_the_table_does_not_list_are_not_priced(catalog: ImageCatalog) -> None:
    dall_e_3 = catalog.lookup("openai", "dall-e-3")
    titan = catalog.lookup("aws.bedrock", "amazon.titan-image-generator-v2:0")
    nova = catalog.lookup("aws.bedrock", "amazon.nova-canvas-v1:0")
    assert dall_e_3 is not None and titan is not None and nova is not None
    assert dall_e_3.image_rate("512x512", "standard") is None  # a DALL-E 2 size
    assert dall_e_3.image_rate("1024x1024", "low") is None  # a gpt-image quality
    assert dall_e_3.image_rate(None, None) is None  # no size: no guessing
    assert titan.image_rate("1024x1024", "hd") is None
    assert nova.image_rate("1280x720", "standard") is None


# --- credits and billing units --------------------------------------------------------------


def test_credits_are_converted_with_usd_per_credit(table: ImageTable, catalog: ImageCatalog) -> None:
    entry = next(e for e in table.models if e.provider == "stability_ai" and e.model == "stable-image-ultra")
    assert entry.prices[0].credits == 8
    assert entry.usd_per_credit == 0.01
    prices = catalog.lookup("stability_ai", "stable-image-ultra")
    assert prices is not None
    rate = prices.image_rate(None, None)
    assert rate is not None
    # 8 credits x $0.01 = $0.08 per image, carried as a USD per-image price
    assert rate.per_image == pytest.approx(0.08)
    assert rate.cost(1, None, None) == pytest.approx(0.08)


def test_flux_2_bills_whole_megapixels_rounded_up(catalog: ImageCatalog) -> None:
    prices = catalog.lookup("black_forest_labs", "flux-2-pro")
    assert prices is not None
    rate = prices.image_rate("1440x1440", None)
    assert rate is not None
    assert rate.first_megapixel == pytest.approx(0.03) and rate.per_megapixel == pytest.approx(0.015)
    # 1440 x 1440 = 2,073,600 px = 1.98 MP (of 1,048,576 px) -> 2 billed: 0.03 + 1 x 0.015 = 0.045
    assert rate.cost(1, megapixels("1440x1440"), None) == pytest.approx(0.045)
    # 1024 x 1024 is exactly one megapixel: 0.03
    assert rate.cost(1, megapixels("1024x1024"), None) == pytest.approx(0.03)
    # exactly 2 MP -> 2 billed: 0.03 + 1 x 0.015 = 0.045
    assert rate.cost(1, 2.0, None) == pytest.approx(0.045)
    # 2.0001 MP -> 3 billed: 0.06
    assert rate.cost(1, 2.0001, None) == pytest.approx(0.06)
    # 0.25 MP -> at least 1 billed: 0.03
    assert rate.cost(1, 0.25, None) == pytest.approx(0.03)
    # without the size there is no megapixel count and no price
    assert rate.cost(1, None, None) is None


def test_per_step_prices_load_and_need_the_step_count(tmp_path: Path) -> None:
    # No bundled model is billed per step today; the table format supports it.
    path = _write(tmp_path, [_entry(prices=[{"size": "1024x1024", "per_step": 0.0002}])])
    prices = ImageCatalog(load_image_table(path)).lookup("stability_ai", "test-model")
    assert prices is not None
    rate = prices.image_rate("1024x1024", None)
    assert rate is not None
    # 2 images x 30 steps x $0.0002 = $0.012
    assert rate.cost(2, None, 30) == pytest.approx(0.012)
    assert rate.cost(2, None, None) is None


# --- lookups --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "canonical"),
    [
        ("openai", "DALL-E-3", "dall-e-3"),
        ("openai", "  dall-e-2 ", "dall-e-2"),
        ("openai", "openai/dall-e-3", "dall-e-3"),
        ("openai", "dall-e-3-2023-11-06", "dall-e-3"),
        ("gcp.vertex_ai", "imagen-3.0-generate-002@20250129", "imagen-3.0-generate-002"),
        ("gcp.vertex_ai", "publishers/google/models/imagen-4.0-fast-generate-001", "imagen-4.0-fast-generate-001"),
        ("gcp.vertex_ai", "imagen-4.0-generate-preview-05-20", "imagen-4.0-generate-001"),
        ("gcp.gemini", "models/imagen-4.0-ultra-generate-preview-06-06", "imagen-4.0-ultra-generate-001"),
        ("aws.bedrock", "stability.stable-image-ultra-v1:0", "stability.stable-image-ultra-v1:1"),
        ("aws.bedrock", "us.stability.stable-image-core-v1:1", "stability.stable-image-core-v1:1"),
        (
            "aws.bedrock",
            "arn:aws:bedrock:us-west-2::foundation-model/stability.sd3-5-large-v1:0",
            "stability.sd3-5-large-v1:0",
        ),
        ("aws.bedrock", "Amazon.Titan-Image-Generator-V2", "amazon.titan-image-generator-v2:0"),
        ("stability_ai", "Ultra", "stable-image-ultra"),
        ("black_forest_labs", "flux-kontext", "flux-kontext-pro"),
        ("azure.ai.openai", "dall-e-3", "dall-e-3"),
    ],
)
def test_lookup_matches_aliases_case_and_dated_names(
    catalog: ImageCatalog, provider: str, model: str, canonical: str
) -> None:
    prices = catalog.lookup(provider, model)
    assert isinstance(prices, ModelPrices)
    assert prices.model == canonical
    assert prices.source == PriceSource.IMAGE_TABLE == "otel-ai-cost-images"
    assert prices.tokens is None


def test_the_provider_selects_the_price(catalog: ImageCatalog) -> None:
    vertex = catalog.lookup("gcp.vertex_ai", "imagen-3.0-generate-002")
    gemini = catalog.lookup("gcp.gemini", "imagen-3.0-generate-002")
    assert vertex is not None and gemini is not None
    vertex_rate, gemini_rate = vertex.image_rate(None, None), gemini.image_rate(None, None)
    assert vertex_rate is not None and gemini_rate is not None
    assert vertex_rate.per_image == pytest.approx(0.04)
    assert gemini_rate.per_image == pytest.approx(0.03)
    # Stable Image Ultra: 8 credits on Stability's own API, $0.14 on Bedrock
    platform = catalog.lookup("stability_ai", "stable-image-ultra")
    bedrock = catalog.lookup("aws.bedrock", "stability.stable-image-ultra-v1:1")
    assert platform is not None and bedrock is not None
    assert platform.images != bedrock.images


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "dall-e-4"),
        ("openai", "gpt-image-1"),  # priced by tokens, in genai-prices
        ("openai", "imagen-4.0-generate-001"),
        ("aws.bedrock", "stable-image-ultra"),  # the platform's name, not a Bedrock model id
        ("stability_ai", "stability.stable-image-ultra-v1:1"),
        ("gcp.gemini", "imagen-3.0-generate-001"),  # Vertex AI only
        ("azure.ai.openai", "imagen-4.0-generate-001"),  # Azure falls back to OpenAI, not Google
        ("anthropic", "dall-e-3"),
        ("no-such-provider", "flux-2-pro"),
        ("openai", ""),
    ],
)
def test_unknown_model_or_provider_is_none(catalog: ImageCatalog, provider: str, model: str) -> None:
    assert catalog.lookup(provider, model) is None


def test_an_azure_entry_in_the_table_wins_over_the_openai_fallback(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _entry(provider="openai", model="dall-e-3", prices=[{"per_image": 0.04}]),
            _entry(provider="azure.ai.openai", model="dall-e-3", prices=[{"per_image": 0.044}]),
        ],
    )
    catalog = ImageCatalog(load_image_table(path))
    prices = catalog.lookup("azure.ai.openai", "dall-e-3")
    assert prices is not None
    rate = prices.image_rate(None, None)
    assert rate is not None and rate.per_image == pytest.approx(0.044)


def test_entries_lists_every_model(table: ImageTable, catalog: ImageCatalog) -> None:
    entries = catalog.entries()
    assert entries == table.models
    assert ("openai", "dall-e-3") in {(entry.provider, entry.model) for entry in entries}
    for entry in entries:
        prices = catalog.lookup(entry.provider, entry.model)
        assert prices is not None and prices.model == entry.model


def test_the_bundled_table_is_read_on_first_use_only(monkeypatch: pytest.MonkeyPatch, table: ImageTable) -> None:
    loads: list[None] = []

    def counting_load(path: Path | None = None) -> ImageTable:
        loads.append(None)
        return table

    monkeypatch.setattr(image_catalog, "load_image_table", counting_load)
    catalog = ImageCatalog()
    assert loads == []
    assert catalog.lookup("openai", "dall-e-3") is not None
    assert catalog.lookup("openai", "dall-e-2") is not None
    assert len(catalog.entries()) == len(table.models)
    assert len(loads) == 1


def test_two_entries_claiming_one_name_are_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _entry(model="flux-a", aliases=["flux"]),
            _entry(model="flux-b", aliases=["FLUX"]),
        ],
    )
    with pytest.raises(ValueError, match=r"'FLUX' is used by both models\[0\] \(flux-a\) and models\[1\] \(flux-b\)"):
        ImageCatalog(load_image_table(path)).lookup("stability_ai", "flux-a")


# --- invalid tables -------------------------------------------------------------------------


def _entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "provider": "stability_ai",
        "model": "test-model",
        "source": "https://example.com/pricing",
        "effective_date": "2025-01-01",
        "prices": [{"per_image": 0.01}],
    }
    entry.update(fields)
    return entry


def _write(tmp_path: Path, models: list[dict[str, Any]]) -> Path:
    path = tmp_path / "image_prices.json"
    path.write_text(json.dumps({"schema_version": 1, "models": models}), encoding="utf-8")
    return path


def test_a_table_file_other_than_the_bundled_one_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, [_entry(usd_per_credit=0.02, prices=[{"size": "*", "quality": "*", "credits": 5}])])
    table = load_image_table(path)
    prices = ImageCatalog(table).lookup("stability_ai", "test-model")
    assert prices is not None
    rate = prices.image_rate("1024x1024", "standard")
    # 5 credits x $0.02 = $0.10
    assert rate is not None and rate.per_image == pytest.approx(0.10)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            _entry(prices=[{"per_image": 0.04, "credits": 4}]),
            "set exactly one of per_image, per_step, per_megapixel, credits (got per_image, credits)",
        ),
        (_entry(prices=[{"size": "1024x1024"}]), "set exactly one of per_image, per_step, per_megapixel, credits"),
        (_entry(prices=[{"credits": 8}]), "prices in credits need usd_per_credit"),
        (_entry(prices=[{"per_image": -0.04}]), "greater than or equal to 0"),
        (_entry(prices=[{"per_megapixel": 0.015, "first_megapixel": -0.03}]), "greater than or equal to 0"),
        (_entry(usd_per_credit=0, prices=[{"credits": 8}]), "greater than 0"),
        (_entry(prices=[{"per_image": 0.04, "first_megapixel": 0.03}]), "first_megapixel needs per_megapixel"),
        (_entry(prices=[{"per_imag": 0.04}]), "Extra inputs are not permitted"),
        (_entry(prices=[]), "at least 1 item"),
        (_entry(effective_date="2025-13-01"), "effective_date"),
        ({k: v for k, v in _entry().items() if k != "source"}, "source\n  Field required"),
    ],
)
def test_invalid_tables_are_rejected_with_a_clear_error(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    path = _write(tmp_path, [_entry(model="fine"), entry])
    with pytest.raises(ValidationError) as excinfo:
        load_image_table(path)
    text = str(excinfo.value)
    assert message in text
    # the error points at the second entry
    assert all(error["loc"][:2] == ("models", 1) for error in excinfo.value.errors())


def test_a_file_that_is_not_json_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "image_prices.json"
    path.write_text('{"models": [', encoding="utf-8")
    with pytest.raises(ValidationError, match="Invalid JSON"):
        load_image_table(path)
