"""`otel-ai-cost`: price a request, list and check prices, estimate a monthly bill.

Errors are one line on stderr and exit code 2, never a traceback; `prices check` alone gives
every problem of the file on a line of its own, and warns (exit code 0) about entries that may
never apply.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from otel_ai_cost.config import ConfigError, Settings
from otel_ai_cost.pricing import Cost, OverridesError, PriceEngine, parse_overrides
from otel_ai_cost.pricing.catalog_listing import PriceRow, catalog_rows, guess_provider, known_provider_names
from otel_ai_cost.usage import Operation, ServiceTier, Usage

EXIT_USAGE = 2
_SIZE = re.compile(r"^\d+x\d+$")
_YAML_MARK = re.compile(r'^\s+in "[^"]*", (line \d+, column \d+):?$')


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see `{self.prog} --help`)")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _size(text: str) -> str:
    if not _SIZE.match(text.lower()):
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1024x1024")
    return text.lower()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="otel-ai-cost", description="Prices of LLM and image-generation API calls.")
    _add_prices_file(parser, default=None)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    price = commands.add_parser("price", help="cost of one request")
    price.add_argument("model")
    _add_request_options(price)
    price.add_argument("--json", action="store_true", help="machine-readable output")
    _add_prices_file(price)

    prices = commands.add_parser("prices", help="list the price catalog or check an overrides file")
    prices_commands = prices.add_subparsers(dest="prices_command", required=True, parser_class=_Parser)
    listing = prices_commands.add_parser("list", help="known models and their prices")
    listing.add_argument("--provider", help="only this provider (e.g. openai, anthropic, aws.bedrock)")
    listing.add_argument("--search", help="only models whose name contains this text")
    listing.add_argument("--json", action="store_true", help="JSON Lines output")
    _add_prices_file(listing)
    check = prices_commands.add_parser("check", help="validate an overrides file")
    check.add_argument("file")

    estimate = commands.add_parser("estimate", help="monthly cost of a workload, and the same on other models")
    estimate.add_argument("--model", required=True)
    estimate.add_argument("--provider", help="provider of --model (default: guessed from the name)")
    estimate.add_argument("--input-tokens", type=_count, required=True, help="input tokens per request")
    estimate.add_argument("--output-tokens", type=_count, required=True, help="output tokens per request")
    estimate.add_argument("--cached-tokens", type=_count, default=0, help="of the input tokens, cache hits")
    estimate.add_argument("--requests-per-day", type=_positive, required=True)
    estimate.add_argument("--days", type=_positive, default=30.0, help="days in a month (default 30)")
    estimate.add_argument(
        "--compare",
        metavar="MODELS",
        help="comma-separated models to compare, each MODEL or PROVIDER:MODEL, "
        "e.g. gpt-4o-mini,aws.bedrock:anthropic.claude-3-5-haiku-20241022-v1:0",
    )
    estimate.add_argument("--json", action="store_true", help="machine-readable output")
    _add_prices_file(estimate)

    alerts = commands.add_parser("alerts", help="alert rules: budget rules, Grafana copies of Prometheus rules")
    alerts_commands = alerts.add_subparsers(dest="alerts_command", required=True, parser_class=_Parser)
    budgets = alerts_commands.add_parser("budgets", help="alert rules from a budgets file")
    budgets.add_argument("file", help="budgets file (YAML or JSON)")
    budgets.add_argument("--format", choices=["prometheus", "grafana"], default="prometheus")
    grafana = alerts_commands.add_parser("grafana", help="Grafana alert provisioning from a Prometheus rule file")
    grafana.add_argument("file", help="Prometheus rule file")
    for command in (budgets, grafana):
        command.add_argument("--datasource-uid", default="prometheus", help="Grafana Prometheus data source uid")
        command.add_argument("--folder", default="otel-ai-cost", help="Grafana folder of the rules")
        command.add_argument("-o", "--output", help="write here instead of standard output")

    focus = commands.add_parser("focus", help="FinOps FOCUS 1.2 cost and usage rows")
    focus_commands = focus.add_subparsers(dest="focus_command", required=True, parser_class=_Parser)
    focus_export = focus_commands.add_parser("export", help="FOCUS rows from saved OTLP/JSON traces")
    focus_export.add_argument("file", help="OTLP/JSON traces: the collector `file` exporter's lines, or one document")
    focus_export.add_argument("-o", "--output", help="write here instead of standard output (required for parquet)")
    focus_export.add_argument(
        "--format", choices=["csv", "jsonl", "parquet"], help="output format (default: from -o's extension, else csv)"
    )
    focus_export.add_argument("--billing-account-id", help="BillingAccountId of every row (default: null)")
    return parser


def _add_prices_file(parser: argparse.ArgumentParser, default: str | None = argparse.SUPPRESS) -> None:
    # Before or after the subcommand; SUPPRESS keeps a subcommand without it from resetting the other.
    parser.add_argument("--prices-file", default=default, help="overrides file (default: $OTEL_AI_COST_PRICES_FILE)")


def _add_request_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider", help="provider (default: guessed from the model name)")
    parser.add_argument("--input-tokens", type=_count, default=0, help="input tokens, cached ones included")
    parser.add_argument("--output-tokens", type=_count, default=0, help="visible output tokens")
    parser.add_argument("--cached-tokens", type=_count, default=0, help="of the input tokens, cache hits")
    parser.add_argument(
        "--cache-write-tokens", type=_count, default=0, help="of the input tokens, written to the cache (5 min)"
    )
    parser.add_argument(
        "--cache-write-1h-tokens", type=_count, default=0, help="of the input tokens, written to the cache for 1 h"
    )
    parser.add_argument(
        "--reasoning-tokens", type=_count, default=0, help="hidden reasoning tokens, billed as output on top"
    )
    parser.add_argument("--web-searches", type=_count, default=0, help="web searches the provider ran")
    parser.add_argument("--file-searches", type=_count, default=0, help="file search calls the provider ran")
    parser.add_argument("--images", type=_count, default=0, help="number of images generated")
    parser.add_argument("--size", type=_size, help="image size, WIDTHxHEIGHT")
    parser.add_argument("--quality", help="image quality (standard, hd, low, medium, high, premium, ...)")
    parser.add_argument("--steps", type=_count, help="diffusion steps, for models billed per step")
    tier = parser.add_mutually_exclusive_group()
    tier.add_argument("--batch", action="store_true", help="priced as a batch job")
    tier.add_argument(
        "--service-tier",
        choices=[ServiceTier.FLEX, ServiceTier.PRIORITY, ServiceTier.FAST],
        help="service tier (fast: Anthropic's fast mode)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    # The command reports problems itself, in one line; the library's log records would repeat them.
    logging.getLogger("otel_ai_cost").addHandler(logging.NullHandler())
    logging.getLogger("otel_ai_cost").propagate = False
    try:
        args = build_parser().parse_args(argv)
        if args.command == "alerts":
            return _alerts(args)
        if args.command == "focus":
            return _focus_export(args)
        engine = PriceEngine(args.prices_file or _env_prices_file(), reload_interval=3600)
        if args.command == "price":
            return _price(engine, args)
        if args.command == "estimate":
            return _estimate(engine, args)
        if args.prices_command == "list":
            return _list(engine, args)
        return _check(args.file)
    except (CliError, ConfigError) as exc:
        print(f"otel-ai-cost: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0


def _env_prices_file() -> str | None:
    # The only setting the command uses: a bad value of another (read for instrumentation) is no error here.
    return Settings.from_env(errors=[]).prices_file


def _load_overrides_or_fail(engine: PriceEngine) -> None:
    if engine.overrides.last_error:
        raise CliError(_one_line(engine.overrides.last_error))


def _one_line(message: str) -> str:
    """A file's error, several lines long, as one: PyYAML's excerpt of the file and its caret are
    left out, and where it points ('  in "<unicode string>", line 2, column 1:') is kept short."""
    lines = message.splitlines()
    marks = [match.group(1) for line in lines if (match := _YAML_MARK.match(line))]
    if marks:
        lines = [line for line in lines if not _YAML_MARK.match(line) and not line.startswith("    ")]
    text = "; ".join(line.strip() for line in lines if line.strip())
    return f"{text} ({marks[-1]})" if marks else text


def _usage_from(args: argparse.Namespace, model: str, provider: str) -> Usage:
    input_parts = args.cached_tokens + args.cache_write_tokens + args.cache_write_1h_tokens
    if input_parts > args.input_tokens:
        raise CliError(
            f"--cached-tokens, --cache-write-tokens and --cache-write-1h-tokens are parts of --input-tokens "
            f"and add up to {input_parts}, more than {args.input_tokens}"
        )
    tier = ServiceTier.BATCH if args.batch else (args.service_tier or ServiceTier.DEFAULT)
    operation = Operation.IMAGE_GENERATION if args.images else Operation.CHAT
    return Usage(
        provider=provider,
        operation=operation,
        request_model=model,
        input_tokens=args.input_tokens,
        cache_read_tokens=args.cached_tokens,
        cache_write_tokens=args.cache_write_tokens,
        cache_write_1h_tokens=args.cache_write_1h_tokens,
        output_tokens=args.output_tokens + args.reasoning_tokens,
        reasoning_tokens=args.reasoning_tokens,
        web_search_requests=args.web_searches,
        file_search_requests=args.file_searches,
        image_count=args.images,
        image_size=args.size,
        image_quality=args.quality,
        image_steps=args.steps,
        service_tier=tier,
    )


def _provider_for(engine: PriceEngine, model: str, provider: str | None, how: str = "pass --provider") -> str:
    if provider:
        return provider
    guessed = guess_provider(engine, model)
    if guessed is None:
        raise CliError(
            f"cannot tell the provider of model {model!r}; {how} (try `otel-ai-cost prices list --search {model}`)"
        )
    return guessed


def _priced(engine: PriceEngine, usage: Usage) -> Cost:
    cost = engine.price(usage)
    if not cost.priced:
        hint = {
            "no_usage": "give --input-tokens/--output-tokens or --images",
            "unknown_image_size": "give a --size (and --quality) the model is priced for",
        }.get(cost.unpriced_reason or "", f"try `otel-ai-cost prices list --search {usage.model}`")
        raise CliError(f"no price for {usage.provider} model {usage.model!r} ({cost.unpriced_reason}): {hint}")
    return cost


def _price(engine: PriceEngine, args: argparse.Namespace) -> int:
    _load_overrides_or_fail(engine)
    provider = _provider_for(engine, args.model, args.provider)
    usage = _usage_from(args, args.model, provider)
    cost = _priced(engine, usage)
    if args.json:
        print(json.dumps({"provider": provider, "requested_model": args.model, **asdict(cost)}, indent=2))
        return 0
    breakdown = cost.breakdown
    assert breakdown is not None
    print(f"{cost.model} ({provider}), prices from {cost.price_source}" + (" (estimated)" if cost.estimated else ""))
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens - usage.cache_write_1h_tokens
    lines = [
        ("input", uncached, breakdown.input_usd),
        ("cached input", usage.cache_read_tokens, breakdown.cached_input_usd),
        ("cache write", usage.cache_write_tokens + usage.cache_write_1h_tokens, breakdown.cache_write_usd),
        ("output", usage.output_tokens, breakdown.output_usd),
    ]
    for label, tokens, usd in lines:
        if tokens:
            print(f"  {label:<14}{tokens:>12,} tokens  {_usd(usd):>14}")
    searches = {"web searches": usage.web_search_requests, "file searches": usage.file_search_requests}
    if named := [label for label, count in searches.items() if count]:
        label = named[0] if len(named) == 1 else "searches"
        searches_usd = _usd(breakdown.tool_calls_usd) if breakdown.tool_calls_usd else "no price"
        print(f"  {label:<14}{sum(searches.values()):>12,} searches{searches_usd:>14}")
    # With tokens given, the engine prices the tokens (an image model's output tokens are its images).
    images_unused = usage.has_tokens and usage.image_count > 0
    if usage.image_count and not images_unused:
        print(f"  {'images':<14}{usage.image_count:>12,} images  {_usd(breakdown.images_usd):>14}")
    print(f"  {'total':<14}{'':>19}  {_usd(cost.total_usd):>14}")
    if images_unused:
        print("  priced by its tokens: --images, --size and --quality are not used when tokens are given")
    if cost.list_usd != cost.total_usd:
        print(f"  list price {_usd(cost.list_usd)} before your discount or commitment")
    if cost.savings_usd:
        print(f"  saved {_usd(cost.savings_usd)} by prompt caching / batch against the standard price")
    return 0


def _estimate(engine: PriceEngine, args: argparse.Namespace) -> int:
    _load_overrides_or_fail(engine)
    if args.cached_tokens > args.input_tokens:
        raise CliError(f"--cached-tokens {args.cached_tokens} is more than --input-tokens {args.input_tokens}")
    if not args.input_tokens and not args.output_tokens:
        raise CliError("--input-tokens and --output-tokens are both 0: nothing to price")
    known = known_provider_names(engine)
    compared = [_split_provider(spec.strip(), known) for spec in (args.compare or "").split(",") if spec.strip()]
    models = [args.model] + [model for _, model in compared]
    rows = []
    givens = [(args.provider, "pass --provider"), *((p, "write it PROVIDER:MODEL in --compare") for p, _ in compared)]
    for model, (given, how) in zip(models, givens, strict=True):
        provider = _provider_for(engine, model, given, how)
        usage = Usage(
            provider=provider,
            request_model=model,
            input_tokens=args.input_tokens,
            cache_read_tokens=args.cached_tokens,
            output_tokens=args.output_tokens,
        )
        per_request = _priced(engine, usage).total_usd
        monthly = per_request * args.requests_per_day * args.days
        rows.append({"model": model, "provider": provider, "per_request_usd": per_request, "monthly_usd": monthly})
    baseline = rows[0]["monthly_usd"]
    for row in rows:
        row["daily_usd"] = row["per_request_usd"] * args.requests_per_day
        row["monthly_savings_vs_first_usd"] = baseline - row["monthly_usd"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{_number(args.requests_per_day)} requests/day x {_number(args.days)} days, "
        f"{args.input_tokens:,} input ({args.cached_tokens:,} cached) + {args.output_tokens:,} output tokens each"
    )
    header = (
        f"  {'provider':<18}{'model':<44}{'per request':>14}{'per day':>14}{'per month':>14}{'vs ' + models[0]:>24}"
    )
    print(header)
    for row in rows:
        delta = row["monthly_savings_vs_first_usd"]
        versus = "" if row is rows[0] else (f"saves {_usd(delta)}" if delta >= 0 else f"costs {_usd(-delta)} more")
        line = (
            f"  {row['provider']:<18}{row['model']:<44}{_usd(row['per_request_usd']):>14}{_usd(row['daily_usd']):>14}"
            f"{_usd(row['monthly_usd']):>14}{versus:>24}"
        )
        print(line.rstrip())
    return 0


def _split_provider(spec: str, known: set[str]) -> tuple[str | None, str]:
    """ "aws.bedrock:anthropic.claude-3-5-haiku-20241022-v1:0" -> (provider, model); model ids may
    hold ':' themselves, so only a known provider name before the first one is taken as the provider."""
    prefix, colon, model = spec.partition(":")
    if colon and model.strip() and prefix.strip().lower() in known:
        return prefix.strip().lower(), model.strip()
    return None, spec


def _list(engine: PriceEngine, args: argparse.Namespace) -> int:
    _load_overrides_or_fail(engine)
    rows = catalog_rows(engine, provider=args.provider, search=args.search)
    if not rows:
        raise CliError(
            "no model matches"
            + (f" --provider {args.provider}" if args.provider else "")
            + (f" --search {args.search}" if args.search else "")
        )
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row)))
        return 0
    print(f"{'provider':<18}{'model':<44}{'input/1M':>10}{'cached/1M':>11}{'output/1M':>11}  images / source")
    for row in rows:
        print(_format_row(row))
    print(f"{len(rows)} models; token prices in USD per 1M tokens")
    return 0


def _format_row(row: PriceRow) -> str:
    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    tail = row.images or ""
    tail = f"{tail}  [{row.source}]" if tail else f"[{row.source}]"
    return (
        f"{row.provider:<18}{row.model:<44}{rate(row.input):>10}{rate(row.cache_read):>11}"
        f"{rate(row.output):>11}  {tail}"
    )


def _check(path: str) -> int:
    from otel_ai_cost.providers.routing import builtin_provider_names

    try:
        data = parse_overrides(path)
    except OverridesError as exc:
        print(f"otel-ai-cost: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{path}: ok: {len(data.models)} model price(s), {len(data.discounts)} discount(s), "
        f"{len(data.deployments)} deployment(s)"
    )
    for warning in data.warnings(builtin_provider_names()):
        print(f"otel-ai-cost: warning: {path}: {warning}", file=sys.stderr)
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from otel_ai_cost import alerting
    from otel_ai_cost.alerting.yaml_text import to_yaml

    grafana_options = {"datasource_uid": args.datasource_uid, "folder": args.folder}
    try:
        if args.alerts_command == "budgets":
            document = alerting.budget_rules(alerting.load_budgets(args.file))
            if args.format == "grafana":
                rules = alerting.RuleFile.model_validate(document)
                document = alerting.grafana_alert_provisioning(rules, **grafana_options)
        else:
            document = alerting.grafana_alert_provisioning(alerting.load_rule_file(args.file), **grafana_options)
    except (alerting.BudgetsError, alerting.RulesError) as exc:
        raise CliError(_one_line(str(exc))) from None
    command = " ".join(["otel-ai-cost alerts", args.alerts_command, args.file] + _non_default_options(args))
    text = to_yaml(
        document, header=f"Generated by `{command}`.\nEdit {args.file} and run that again; do not edit this file."
    )
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    print(f"{args.output}: {_count_rules(document)} alert rule(s)", file=sys.stderr)
    return 0


def _focus_export(args: argparse.Namespace) -> int:
    from otel_ai_cost.exporters import focus

    output_format = args.format or (focus.format_for(args.output) if args.output else "csv")
    if output_format == "parquet" and (args.output is None or not focus.parquet_available()):
        raise CliError("parquet needs -o FILE and pyarrow (pip install 'otel-ai-cost[parquet]')")
    try:
        with open(args.file, encoding="utf-8") as traces:
            text = traces.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        rows, spans = focus.rows_from_otlp_json(text, args.file, args.billing_account_id)
    except focus.FocusError as exc:
        raise CliError(str(exc)) from None
    if args.output is None:
        sys.stdout.write(focus.render_csv(rows) if output_format == "csv" else focus.render_jsonl(rows))
        return 0
    try:
        focus.write_rows(rows, Path(args.output), output_format, append=False)
    except OSError as exc:
        raise CliError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    print(f"{args.output}: {len(rows)} FOCUS row(s) from {spans} AI request span(s)", file=sys.stderr)
    return 0


def _non_default_options(args: argparse.Namespace) -> list[str]:
    options = []
    if getattr(args, "format", "prometheus") != "prometheus":
        options.append(f"--format {args.format}")
    if args.datasource_uid != "prometheus":
        options.append(f"--datasource-uid {args.datasource_uid}")
    if args.folder != "otel-ai-cost":
        options.append(f"--folder {args.folder}")
    return options


def _count_rules(document: dict[str, Any]) -> int:
    return sum(len(group["rules"]) for group in document["groups"])


def _number(value: float) -> str:
    """20,000, 1,234.5 or 0.004, never 0 for a fraction (one request every other day is 0.5)."""
    if value.is_integer():
        return f"{value:,.0f}"
    if abs(value) < 1:
        return f"{value:.3g}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _usd(value: float) -> str:
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return f"${value:,.4f}"
    return f"${value:.8f}".rstrip("0")


if __name__ == "__main__":
    sys.exit(main())
