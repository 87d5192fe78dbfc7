"""The user's overrides file: own models, discounts, deployments, PTU, errors and live reload.

Catalog prices used (USD per 1M tokens): gpt-4o-mini input 0.15 / output 0.60;
gpt-4o (OpenAI and Azure) input 2.50 / output 10.00; gpt-5 input 1.25 / output 10.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from otel_ai_cost import OverridesError, PriceEngine, Usage
from otel_ai_cost.pricing import parse_overrides
from otel_ai_cost.pricing.image_catalog import ImageCatalog

M = 1_000_000

OVERRIDES = """
models:
  - provider: vllm
    model: llama-3.1-70b-internal
    aliases: [llama-internal]
    tokens: {input: 0.40, output: 1.20}
  - provider: openai
    model: gpt-4o-mini
    tokens: {input: 0.10, output: 0.50}
discounts:
  - {provider: openai, percent: 10}
  - {provider: openai, model: "gpt-4o*", percent: 18}
deployments:
  - {deployment: prod-chat, model: gpt-4o}
  - {deployment: ptu-east, model: gpt-4o, provisioned: true}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def engine(tmp_path: Path) -> PriceEngine:
    return PriceEngine(write(tmp_path / "prices.yaml", OVERRIDES), reload_interval=0)


def test_internal_model_priced_from_overrides(engine: PriceEngine) -> None:
    cost = engine.price(Usage(provider="vllm", request_model="llama-internal", input_tokens=10_000, output_tokens=2000))
    # 10000 x 0.40 + 2000 x 1.20 = 4000 + 2400 = 6400
    assert cost.priced and cost.price_source == "overrides" and cost.model == "llama-3.1-70b-internal"
    assert cost.total_usd == pytest.approx(6400 / M)


def test_override_wins_over_catalog_and_discount_applies(engine: PriceEngine) -> None:
    cost = engine.price(Usage(provider="openai", request_model="gpt-4o-mini", input_tokens=1000, output_tokens=1000))
    # own price 1000 x 0.10 + 1000 x 0.50 = 600 list; "gpt-4o*" is the most specific discount: 18% off
    assert cost.list_usd == pytest.approx(600 / M)
    assert cost.total_usd == pytest.approx(600 * 0.82 / M)
    assert cost.breakdown is not None and cost.breakdown.total() == pytest.approx(cost.total_usd)


def test_an_own_price_can_price_web_and_file_searches(tmp_path: Path) -> None:
    """OpenAI's pricing page lists the Chat Completions search previews' searches at $25 per 1,000;
    the catalog prices gpt-4o-mini-search-preview's at gpt-4o-mini's $10: the user can say what they pay."""
    text = (
        "models:\n  - provider: openai\n    model: gpt-4o-mini-search-preview\n"
        "    tokens: {input: 0.15, output: 0.60, per_web_search: 0.025, per_file_search: 0.0025}\n"
    )
    engine = PriceEngine(write(tmp_path / "prices.yaml", text), reload_interval=0)
    usage = Usage(
        provider="openai",
        request_model="gpt-4o-mini-search-preview",
        input_tokens=1200,
        output_tokens=300,
        web_search_requests=1,
        file_search_requests=2,
    )
    cost = engine.price(usage)
    # 1200 x 0.15 + 300 x 0.60 = 180 + 180 = 360 per 1M = $0.00036; 1 x $0.025 + 2 x $0.0025 = $0.03
    assert cost.price_source == "overrides" and not cost.estimated
    assert cost.breakdown is not None and cost.breakdown.tool_calls_usd == pytest.approx(0.03)
    assert cost.total_usd == pytest.approx(0.00036 + 0.03)


def test_provider_wide_discount(engine: PriceEngine) -> None:
    cost = engine.price(Usage(provider="openai", request_model="gpt-5", input_tokens=1000, output_tokens=1000))
    # 1000 x 1.25 + 1000 x 10 = 11250 list, 10% off = 10125
    assert cost.list_usd == pytest.approx(11_250 / M)
    assert cost.total_usd == pytest.approx(10_125 / M)


@pytest.mark.parametrize("sent", ["gpt-4.1", "GPT-4.1", "gpt-4.1-2025-04-14", "openai/gpt-4.1"])
def test_a_discount_on_a_model_name_applies_to_the_names_it_is_sent_under(tmp_path: Path, sent: str) -> None:
    """OpenAI's responses name the dated snapshot, which is the name priced: the discount on the
    model's name must reach it."""
    text = "discounts:\n  - {provider: openai, model: gpt-4.1, percent: 20}\n"
    engine = PriceEngine(write(tmp_path / "prices.yaml", text), reload_interval=0)
    cost = engine.price(Usage(provider="openai", request_model=sent, input_tokens=1_000_000))
    # 1M x $2.00 per 1M = $2.00 list, 20 % off = $1.60
    assert (cost.model, cost.list_usd, cost.total_usd) == ("gpt-4.1", pytest.approx(2.0), pytest.approx(1.6))
    mini = engine.price(Usage(provider="openai", request_model="gpt-4.1-mini", input_tokens=1_000_000))
    assert mini.total_usd == pytest.approx(mini.list_usd)  # another model: no discount


def test_provider_names_in_the_file_match_in_any_case(tmp_path: Path) -> None:
    """`provider: OpenAI` validated, then never matched the requests' `openai`: the discount was
    silently not applied. An endpoint map may also name its provider in capitals (`openai:vLLM`)."""
    text = (
        "discounts:\n  - {provider: OpenAI, percent: 50}\n"
        "models:\n  - {provider: VLLM, model: my-llama, tokens: {input: 1, output: 2}}\n"
        "deployments:\n  - {provider: Azure.AI.OpenAI, deployment: prod-chat, model: gpt-4o}\n"
    )
    engine = PriceEngine(write(tmp_path / "prices.yaml", text), reload_interval=0)
    discounted = engine.price(Usage(provider="openai", request_model="gpt-4o", input_tokens=1_000_000))
    # 1M x $2.50 per 1M = $2.50 list, 50 % off = $1.25
    assert (discounted.list_usd, discounted.total_usd) == (pytest.approx(2.5), pytest.approx(1.25))
    for provider in ("vllm", "vLLM"):
        own = engine.price(Usage(provider=provider, request_model="my-llama", input_tokens=1_000_000))
        # 1M x $1 per 1M = $1
        assert own.price_source == "overrides" and own.total_usd == pytest.approx(1.0), provider
    deployed = engine.price(Usage(provider="azure.ai.openai", deployment="prod-chat", input_tokens=1_000_000))
    # gpt-4o on Azure: 1M x $2.50 per 1M = $2.50
    assert deployed.model == "gpt-4o" and deployed.total_usd == pytest.approx(2.5)


def test_azure_deployment_name_maps_to_model(engine: PriceEngine) -> None:
    cost = engine.price(Usage(provider="azure.ai.openai", deployment="prod-chat", input_tokens=1000, output_tokens=500))
    # gpt-4o on Azure: 1000 x 2.50 + 500 x 10 = 2500 + 5000 = 7500
    assert cost.model == "gpt-4o"
    assert cost.total_usd == pytest.approx(7500 / M)


def test_provisioned_deployment_costs_nothing_but_keeps_list_price(engine: PriceEngine) -> None:
    cost = engine.price(
        Usage(
            provider="azure.ai.openai",
            request_model="gpt-4o-2024-08-06",
            deployment="ptu-east",
            input_tokens=1000,
            output_tokens=500,
        )
    )
    # pay-as-you-go equivalent 7500 per 1M; the PTU is paid for up front
    assert cost.priced
    assert cost.total_usd == 0.0
    assert cost.list_usd == pytest.approx(7500 / M)


def test_json_file_works_too(tmp_path: Path) -> None:
    path = write(
        tmp_path / "prices.json",
        json.dumps(
            {"models": [{"provider": "ollama", "model": "qwen3:8b", "tokens": {"input": 0.05, "output": 0.05}}]}
        ),
    )
    cost = PriceEngine(path).price(
        Usage(provider="ollama", request_model="qwen3:8b", input_tokens=1000, output_tokens=1000)
    )
    # 1000 x 0.05 + 1000 x 0.05 = 100
    assert cost.total_usd == pytest.approx(100 / M)


def test_image_prices_in_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.yaml",
        """
models:
  - provider: internal
    model: diffuser-xl
    usd_per_credit: 0.01
    images:
      - {size: 1024x1024, credits: 3}
      - {size: 2048x2048, per_step: 0.002}
""",
    )
    engine = PriceEngine(path)
    small = engine.price(
        Usage(
            provider="internal",
            operation="image_generation",
            request_model="diffuser-xl",
            image_count=2,
            image_size="1024x1024",
        )
    )
    big = engine.price(
        Usage(
            provider="internal",
            operation="image_generation",
            request_model="diffuser-xl",
            image_count=1,
            image_size="2048x2048",
            image_steps=30,
        )
    )
    # 2 images x 3 credits x $0.01 = $0.06; 1 image x 30 steps x $0.002 = $0.06
    assert small.total_usd == pytest.approx(0.06)
    assert big.total_usd == pytest.approx(0.06)
    no_steps = engine.price(
        Usage(
            provider="internal",
            operation="image_generation",
            request_model="diffuser-xl",
            image_count=1,
            image_size="2048x2048",
        )
    )
    assert not no_steps.priced and no_steps.unpriced_reason == "unknown_image_size"


def test_an_image_size_is_matched_in_any_case(tmp_path: Path) -> None:
    text = "models:\n  - {provider: openai, model: my-image, images: [{size: 1024X1024, per_image: 0.03}]}\n"
    engine = PriceEngine(write(tmp_path / "prices.yaml", text), reload_interval=0)
    usage = Usage(provider="openai", operation="image_generation", request_model="my-image", image_count=2)
    usage.image_size = "1024x1024"
    # 2 images x $0.03 = $0.06
    assert engine.price(usage).total_usd == pytest.approx(0.06)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "models:\n  - {provider: vllm, model: a, tokens: {input: 1}}\n"
            "  - {provider: vllm, model: llama-x, tokens: {input: -1, output: 2}}\n",
            ["prices.yaml", "models[1] (provider=vllm, model=llama-x)", "tokens.input", "greater than or equal to 0"],
        ),
        (
            "discounts:\n  - {provider: openai, percent: 150}\n",
            ["discounts[0] (provider=openai)", "percent", "less than or equal to 100"],
        ),
        (
            "models:\n  - {provider: x, model: y, tokens: {input: 1}, colour: red}\n",
            ["models[0] (provider=x, model=y)", "colour", "Extra inputs are not permitted"],
        ),
        (
            "models:\n  - {provider: x, model: y, images: [{per_image: 1, credits: 2}]}\n",
            ["models[0] (provider=x, model=y)", "images.0", "exactly one of"],
        ),
        ("models:\n  - {provider: x, model: y}\n", ["models[0]", "give `tokens` or `images`"]),
        ("models:\n  - {provider: x, model: y, images: [{credits: 3}]}\n", ["models[0]", "need usd_per_credit"]),
        ("models:\n  - {provider: x, model: y, tokens: {input: .inf}}\n", ["tokens.input", "finite number"]),
        (
            "models:\n  - {provider: x, model: y, tokens: {input: 1}}\n"
            "  - {provider: x, model: Y, tokens: {input: 9}}\n",
            ["models[1]: x 'Y' is also models[0]"],
        ),
        ("models: [unclosed\n", ["prices.yaml", "not valid YAML", "line"]),
        ("- just\n- a list\n", ["expected a mapping"]),
    ],
)
def test_invalid_file_names_file_entry_and_field(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path / "prices.yaml", text)
    with pytest.raises(OverridesError) as raised:
        parse_overrides(path)
    for fragment in expected:
        assert fragment in str(raised.value)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OverridesError, match="cannot read"):
        parse_overrides(tmp_path / "nope.yaml")


def test_reloads_when_the_file_changes_and_keeps_old_prices_on_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "prices.yaml", "models:\n  - {provider: vllm, model: m, tokens: {input: 1, output: 1}}\n")
    engine = PriceEngine(path, reload_interval=0)
    request = Usage(provider="vllm", request_model="m", input_tokens=1000, output_tokens=1000)
    # 1000 x 1 + 1000 x 1 = 2000
    assert engine.price(request).total_usd == pytest.approx(2000 / M)

    write(path, "models:\n  - {provider: vllm, model: m, tokens: {input: 2, output: 3}}\n")
    os.utime(path, ns=(1, 10**18))  # a distinct mtime even on coarse file systems
    # 1000 x 2 + 1000 x 3 = 5000
    assert engine.price(request).total_usd == pytest.approx(5000 / M)

    with caplog.at_level(logging.ERROR):
        write(path, "models:\n  - {provider: vllm, model: m, tokens: {input: oops}}\n")
        os.utime(path, ns=(1, 2 * 10**18))
        assert engine.price(request).total_usd == pytest.approx(5000 / M)  # previous prices in force
        assert engine.price(request).total_usd == pytest.approx(5000 / M)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, "an invalid file is reported once, not on every request"
    assert "prices.yaml" in errors[0] and "models[0]" in errors[0] and "tokens.input" in errors[0]
    assert engine.overrides.last_error is not None


def test_reload_is_rate_limited(tmp_path: Path) -> None:
    path = write(tmp_path / "prices.yaml", "models:\n  - {provider: vllm, model: m, tokens: {input: 1}}\n")
    engine = PriceEngine(path, reload_interval=3600)
    request = Usage(provider="vllm", request_model="m", input_tokens=1000)
    assert engine.price(request).total_usd == pytest.approx(1000 / M)
    write(path, "models:\n  - {provider: vllm, model: m, tokens: {input: 9}}\n")
    os.utime(path, ns=(1, 10**18))
    # within the interval the file is not looked at again
    assert engine.price(request).total_usd == pytest.approx(1000 / M)


def test_a_lookup_overtaken_by_a_reload_leaves_no_stale_price(tmp_path: Path) -> None:
    """A lookup of model `m` is under way when the file changes and another request (another thread
    in real life; here, from inside the lookup) reloads it and clears the cache: the old price the
    lookup then stores must not serve later requests."""
    path = write(tmp_path / "prices.yaml", "models:\n  - {provider: vllm, model: m, tokens: {input: 1.0}}\n")
    overtaken: list[PriceEngine] = []

    class OvertakenImages(ImageCatalog):
        def lookup(self, provider: str, model: str) -> Any:
            if model == "m" and overtaken:
                engine = overtaken.pop()
                write(path, "models:\n  - {provider: vllm, model: m, tokens: {input: 2.0}}\n")
                engine.price(Usage(provider="vllm", request_model="other", input_tokens=1))  # reloads
            return super().lookup(provider, model)

    engine = PriceEngine(path, reload_interval=0, image_catalog=OvertakenImages())
    overtaken.append(engine)
    usage = Usage(provider="vllm", request_model="m", input_tokens=1_000_000)
    assert engine.price(usage).total_usd == pytest.approx(1.0)  # priced with the file it started with
    # 1M x $2.00 per 1M, the file's new price
    assert engine.price(usage).total_usd == pytest.approx(2.0)
