"""The otel-ai-cost command, run as a user runs it: a subprocess of the installed console script.

Prices (USD per 1M tokens): gpt-4o-mini 0.15 in / 0.075 cached / 0.60 out; gpt-4o 2.50 / 10;
o3-mini 1.10 / 4.40 (batch 0.55 / 2.20); DALL-E 3 hd 1792x1024 $0.12 per image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = shutil.which("otel-ai-cost", path=os.path.dirname(sys.executable)) or "otel-ai-cost"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_AI_COST_")}
    full_env.update(env or {})
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, env=full_env)


def test_price_json_matches_hand_computed_cost() -> None:
    result = run(
        "price", "gpt-4o-mini", "--input-tokens", "1200", "--cached-tokens", "1024", "--output-tokens", "300", "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # 176 x 0.15 + 1024 x 0.075 + 300 x 0.60 = 283.2 per 1M
    assert data["total_usd"] == pytest.approx(0.0002832)
    assert data["provider"] == "openai"  # guessed from the name
    assert data["priced"] is True


def test_price_human_output_shows_breakdown() -> None:
    result = run("price", "gpt-4o-mini", "--input-tokens", "1200", "--cached-tokens", "1024", "--output-tokens", "300")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "gpt-4o-mini (openai)" in out
    assert "cached input" in out and "1,024" in out
    assert "$0.0002832" in out
    assert "saved $0.0000768" in out


def test_reasoning_tokens_are_added_to_output_and_batch_applies() -> None:
    result = run(
        "price",
        "o3-mini",
        "--input-tokens",
        "2000",
        "--output-tokens",
        "500",
        "--reasoning-tokens",
        "3000",
        "--batch",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    # batch: 2000 x 0.55 + (500 + 3000) x 2.20 = 1100 + 7700 = 8800 per 1M
    assert json.loads(result.stdout)["total_usd"] == pytest.approx(0.0088)


def test_web_searches_are_a_line_of_their_own() -> None:
    result = run("price", "gpt-4o", "--input-tokens", "1000", "--output-tokens", "100", "--web-searches", "3")
    assert result.returncode == 0, result.stderr
    # 1000 x 2.50 + 100 x 10 = 3500 per 1M = $0.0035; 3 searches x $10 / 1000 = $0.03; total $0.0335
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["web", "searches", "3"] and line.endswith("$0.0300") for line in lines), lines
    assert lines[-1].split() == ["total", "$0.0335"]


def test_image_price() -> None:
    result = run("price", "dall-e-3", "--images", "2", "--size", "1792x1024", "--quality", "hd", "--json")
    assert result.returncode == 0, result.stderr
    # 2 x $0.12 = $0.24
    data = json.loads(result.stdout)
    assert data["total_usd"] == pytest.approx(0.24)
    assert data["breakdown"]["images_usd"] == pytest.approx(0.24)


def test_images_given_with_tokens_are_said_to_be_unused() -> None:
    """The engine prices tokens when there are any: the images line read "2 images $0"."""
    result = run("price", "gpt-4o-mini", "--input-tokens", "10", "--images", "2", "--size", "1024x1024")
    assert result.returncode == 0, result.stderr
    assert not any(line.strip().startswith("images") for line in result.stdout.splitlines())
    # 10 x $0.15 per 1M = $0.0000015
    assert "$0.0000015" in result.stdout
    assert "priced by its tokens: --images, --size and --quality are not used" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["price", "gpt-17-ultra", "--provider", "openai", "--input-tokens", "5"],
            "no price for openai model 'gpt-17-ultra' (unknown_model)",
        ),
        (["price", "totally-unknown-thing", "--input-tokens", "5"], "cannot tell the provider"),
        (["price", "gpt-4o-mini", "--input-tokens", "-3"], "must not be negative"),
        (["price", "gpt-4o-mini", "--input-tokens", "ten"], "not a whole number"),
        (["price", "gpt-4o-mini", "--input-tokens", "10", "--cached-tokens", "20"], "parts of --input-tokens"),
        (["price", "gpt-4o-mini"], "no_usage"),
        (["price", "dall-e-3", "--images", "1", "--size", "big"], "not WIDTHxHEIGHT"),
        (["price", "dall-e-3", "--images", "1", "--size", "640x480"], "unknown_image_size"),
        (["estimate", "--model", "gpt-4o", "--input-tokens", "10", "--output-tokens", "5"], "--requests-per-day"),
        (["estimate", "--model", "gpt-4o", "--input-tokens", "1", "--requests-per-day", "nan"], "not a finite number"),
        (
            ["estimate", "--model", "gpt-4o", "--input-tokens", "1", "--requests-per-day", "9", "--days", "inf"],
            "finite",
        ),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_errors_are_one_line_exit_2_no_traceback(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("otel-ai-cost: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


ESTIMATE = (
    *("estimate", "--model", "gpt-4o", "--input-tokens", "1500", "--output-tokens", "400"),
    *("--requests-per-day", "20000", "--compare", "gpt-4o-mini"),
)


def test_estimate_compares_models() -> None:
    result = run(*ESTIMATE, "--json")
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout)
    # gpt-4o: 1500 x 2.50 + 400 x 10 = 3750 + 4000 = 7750 per 1M = $0.00775 a request
    #   x 20000 a day = $155 a day, x 30 days = $4650 a month
    assert first["per_request_usd"] == pytest.approx(0.00775)
    assert first["monthly_usd"] == pytest.approx(4650)
    # gpt-4o-mini: 1500 x 0.15 + 400 x 0.60 = 225 + 240 = 465 per 1M = $0.000465
    #   x 20000 x 30 = $279 a month; saves 4650 - 279 = $4371
    assert second["monthly_usd"] == pytest.approx(279)
    assert second["monthly_savings_vs_first_usd"] == pytest.approx(4371)


def test_estimate_table() -> None:
    result = run(*ESTIMATE)
    assert result.returncode == 0, result.stderr
    assert "$4,650.00" in result.stdout and "saves $4,371.00" in result.stdout


def test_estimate_compares_models_of_a_given_provider() -> None:
    """--provider is --model's; a compared model's provider is written PROVIDER:MODEL, and a
    Bedrock model id holds a ':' of its own."""
    result = run(
        *("estimate", "--model", "gpt-4o", "--input-tokens", "1500", "--output-tokens", "400"),
        *("--requests-per-day", "100", "--json"),
        *("--compare", "aws.bedrock:anthropic.claude-3-5-haiku-20241022-v1:0,Groq:llama-3.1-70b-versatile"),
    )
    assert result.returncode == 0, result.stderr
    first, bedrock, groq = json.loads(result.stdout)
    # gpt-4o: 1500 x 2.50 + 400 x 10 = 7750 per 1M = $0.00775 a request, x 100 x 30 = $23.25 a month
    assert (first["provider"], first["monthly_usd"]) == ("openai", pytest.approx(23.25))
    # Claude 3.5 Haiku on Bedrock: 1500 x 0.80 + 400 x 4 = 1200 + 1600 = 2800 per 1M = $0.0028
    assert (bedrock["provider"], bedrock["model"]) == ("aws.bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0")
    assert bedrock["per_request_usd"] == pytest.approx(0.0028)
    # Groq: 1500 x 0.59 + 400 x 0.79 = 885 + 316 = 1201 per 1M = $0.001201
    assert (groq["provider"], groq["per_request_usd"]) == ("groq", pytest.approx(0.001201))
    helped = run("estimate", "--help")
    assert "PROVIDER:MODEL" in helped.stdout


def test_estimate_asks_for_a_compared_models_provider_in_compare() -> None:
    result = run(
        *("estimate", "--model", "gpt-4o", "--input-tokens", "1500", "--output-tokens", "400"),
        *("--requests-per-day", "100", "--compare", "llama-3.1-70b-instruct"),
    )
    assert result.returncode == 2
    assert "cannot tell the provider of model 'llama-3.1-70b-instruct'; write it PROVIDER:MODEL in --compare" in (
        result.stderr
    )


def test_a_model_the_catalog_lists_but_its_patterns_miss_has_a_provider() -> None:
    """`prices list` lists text-embedding-3-small under openai (and azure.ai.openai, which resells it)."""
    result = run("price", "text-embedding-3-small", "--input-tokens", "1000", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # 1000 x $0.02 per 1M = $0.00002
    assert (data["provider"], data["total_usd"]) == ("openai", pytest.approx(0.00002))


@pytest.mark.parametrize(
    "model", ["anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0"]
)
def test_a_bedrock_model_id_is_guessed_as_bedrock(model: str) -> None:
    """Its name matches the maker's patterns (anthropic), which price no such id: Bedrock does."""
    result = run("price", model, "--input-tokens", "1000", "--output-tokens", "100", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # claude-3-5-haiku on Bedrock (regional): input 0.80, output 4 USD per 1M: 1000 x 0.8 + 100 x 4 = 1200 per 1M
    assert (data["provider"], data["total_usd"]) == ("aws.bedrock", pytest.approx(0.0012))


def test_estimate_shows_a_fractional_request_rate() -> None:
    result = run(
        *("estimate", "--model", "gpt-4o", "--input-tokens", "1000000", "--output-tokens", "0"),
        *("--requests-per-day", "0.5", "--days", "30"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0.5 requests/day x 30 days, 1,000,000 input"), result.stdout
    # 1M x $2.50 per 1M = $2.50 a request, x 0.5 a day = $1.25 a day, x 30 days = $37.50 a month
    assert "$1.25" in result.stdout and "$37.50" in result.stdout


def test_estimate_of_no_tokens_says_which_options() -> None:
    """estimate has no --images: the price command's hint named it."""
    result = run(
        *("estimate", "--model", "gpt-4o", "--input-tokens", "0", "--output-tokens", "0"), "--requests-per-day", "1"
    )
    assert result.returncode == 2
    assert result.stderr == "otel-ai-cost: error: --input-tokens and --output-tokens are both 0: nothing to price\n"


def test_prices_list_filters() -> None:
    result = run("prices", "list", "--provider", "anthropic", "--search", "sonnet-4-5", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all(r["provider"] == "anthropic" and "sonnet-4-5" in r["model"] for r in rows)
    assert any(r["input"] == 3.0 and r["output"] == 15.0 for r in rows)


def test_prices_list_includes_image_table() -> None:
    result = run("prices", "list", "--search", "dall-e-3")
    assert result.returncode == 0, result.stderr
    assert "dall-e-3" in result.stdout and "/image" in result.stdout


def test_prices_list_no_match_is_an_error() -> None:
    result = run("prices", "list", "--search", "zzz-no-such-model")
    assert result.returncode == 2 and "no model matches" in result.stderr


def test_prices_check(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("models:\n  - {provider: vllm, model: m, tokens: {input: 1, output: 2}}\n")
    result = run("prices", "check", str(good))
    assert result.returncode == 0 and "ok: 1 model price(s)" in result.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - {provider: vllm, model: m, tokens: {input: -1}}\n")
    result = run("prices", "check", str(bad))
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "models[0] (provider=vllm, model=m)" in result.stderr
    assert "Traceback" not in result.stderr


def test_prices_check_warns_about_entries_that_may_never_apply(tmp_path: Path) -> None:
    """A provider no built-in route reports (a typo, or a server that needs OTEL_AI_COST_ENDPOINTS),
    and a Bedrock ARN left at the default provider, azure.ai.openai: valid, so warnings, exit 0."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "discounts:\n  - {provider: OpenAI, percent: 50}\n  - {provider: open-ai, percent: 10}\n"
        "models:\n  - {provider: VLLM, model: m, tokens: {input: 1, output: 2}}\n"
        "deployments:\n"
        "  - {deployment: 'arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc', model: m}\n"
        "  - {provider: aws.bedrock, deployment: 'arn:aws:bedrock:us-east-1:1:provisioned-model/d', model: m}\n"
    )
    result = run("prices", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert "ok: 1 model price(s), 2 discount(s), 2 deployment(s)" in result.stdout
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 3, result.stderr
    assert all(line.startswith(f"otel-ai-cost: warning: {path}: ") for line in warnings)
    assert "models[0]: provider 'vllm' is not one otel-ai-cost names by default" in warnings[0]
    assert "OTEL_AI_COST_ENDPOINTS" in warnings[0]
    assert "discounts[1]: provider 'open-ai'" in warnings[1]
    assert "deployments[0]:" in warnings[2] and "add `provider: aws.bedrock`" in warnings[2]


def test_prices_file_applies_to_price(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("models:\n  - {provider: vllm, model: my-llama, tokens: {input: 0.4, output: 1.2}}\n")
    result = run(
        "price",
        "my-llama",
        "--input-tokens",
        "10000",
        "--output-tokens",
        "2000",
        "--json",
        env={"OTEL_AI_COST_PRICES_FILE": str(path)},
    )
    assert result.returncode == 0, result.stderr
    # 10000 x 0.40 + 2000 x 1.20 = 6400 per 1M; provider guessed from the overrides file
    data = json.loads(result.stdout)
    assert data["total_usd"] == pytest.approx(0.0064) and data["provider"] == "vllm"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # 1M x $2.50 per 1M = $2.50 list, the file's 50 % off = $1.25
        (["price", "gpt-4o", "--input-tokens", "1000000"], "$1.25"),
        # a request of 1M x $2.50 per 1M, 50 % off = $1.25, x 1 a day x 30 days = $37.50 a month
        (["estimate", "--model", "gpt-4o", "--input-tokens", "1000000", "--output-tokens", "0"], "$37.50"),
        (["prices", "list", "--search", "my-llama"], "my-llama"),
    ],
)
def test_prices_file_may_follow_the_subcommand(args: list[str], expected: str, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "discounts: [{provider: openai, percent: 50}]\n"
        "models: [{provider: vllm, model: my-llama, tokens: {input: 1, output: 2}}]\n"
    )
    extra = ["--requests-per-day", "1"] if args[0] == "estimate" else []
    for argv in (["--prices-file", str(path), *args, *extra], [*args, *extra, "--prices-file", str(path)]):
        result = run(*argv)
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout, argv
    helped = run(*args[: 2 if args[0] == "prices" else 1], "--help")
    assert "--prices-file" in helped.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--prices-file", "{path}", "price", "gpt-4o", "--input-tokens", "5"],
        ["alerts", "budgets", "{path}"],
        ["alerts", "grafana", "{path}"],
    ],
)
def test_a_yaml_syntax_error_is_one_readable_line(args: list[str], tmp_path: Path) -> None:
    """PyYAML's message spans lines (an excerpt of the file, a caret): joined, they read '; ; ^'."""
    path = tmp_path / "p.yaml"
    path.write_text("discounts:\n  - {provider: openai, percent: 5}\n bad: [\n")
    result = run(*(arg.format(path=path) for arg in args))
    assert result.returncode == 2
    assert result.stderr == (
        f"otel-ai-cost: error: {path}: not valid YAML: while parsing a block mapping; "
        "expected <block end>, but found '<block mapping start>' (line 3, column 2)\n"
    )
    checked = run("prices", "check", str(path))  # the full message, excerpts and all, where it is asked for
    assert checked.returncode == 2 and "line 3, column 2:\n     bad: [\n     ^" in checked.stderr


def test_invalid_prices_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("discounts: [{provider: openai, percent: 0}]\n")
    result = run("--prices-file", str(path), "price", "gpt-4o", "--input-tokens", "5")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "p.yaml" in result.stderr


@pytest.mark.parametrize(
    "args", [["prices", "list", "--search", "gpt-4o-mini"], ["price", "gpt-4o-mini", "--input-tokens", "1000000"]]
)
def test_settings_the_command_does_not_use_are_not_checked(args: list[str], tmp_path: Path) -> None:
    """A bad value meant for the instrumentation used to stop every command."""
    prices = tmp_path / "p.yaml"
    prices.write_text("discounts: [{provider: openai, percent: 50}]\n")
    env = {
        "OTEL_AI_COST_SEMCONV_METRICS": "maybe",
        "OTEL_AI_COST_PRICES_RELOAD_SECONDS": "soon",
        "OTEL_AI_COST_MAX_TAG_VALUES": "many",
        "OTEL_AI_COST_PRICES_FILE": str(prices),
    }
    result = run(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    if args[0] == "price":
        # 1M x $0.15 per 1M = $0.15, the prices file's 50 % off = $0.075
        assert "$0.0750" in result.stdout


def test_a_prices_file_setting_that_cannot_be_read_is_the_error_not_an_unused_setting(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    env = {"OTEL_AI_COST_PRICES_FILE": str(missing), "OTEL_AI_COST_SEMCONV_METRICS": "maybe"}
    result = run("price", "gpt-4o", "--input-tokens", "5", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"otel-ai-cost: error: {missing}: cannot read: No such file or directory"
