"""FinOps FOCUS 1.2 cost and usage rows from the AI request spans, for FinOps tools.

    OTEL_TRACES_EXPORTER=ai_cost_focus opentelemetry-instrument python app.py
    otel-ai-cost focus export traces.json -o focus.csv        # a collector `file` exporter's output

Requests are summed per hour (the charge period), provider, endpoint, model or deployment, SKU
(the model that answered), operation, unit (tokens, images or requests), commitment and tag set.
Columns are named as in FOCUS 1.2; custom columns start with `x_`. What each column holds, and
why some are null, is in `COLUMN_NOTES` and the README.

A request with no known price is exported with null costs and counted in `x_UnpricedRequests`,
never as a cost of 0. HTTP errors are not billable and are not exported.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import logging
import os
import shutil
import stat
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_ai_cost.pricing import Commitment
from otel_ai_cost.tags import ATTRIBUTE_PREFIX, RESERVED_DIMENSIONS
from otel_ai_cost.telemetry import names

if sys.platform != "win32":
    import fcntl

logger = logging.getLogger(__name__)

SCOPE = "otel_ai_cost.instrumentor"
"""Instrumentation scope of the spans this package writes; other spans are ignored."""
ENV_FORMAT = "OTEL_AI_COST_FOCUS_FORMAT"
ENV_PATH = "OTEL_AI_COST_FOCUS_PATH"
ENV_BILLING_ACCOUNT = "OTEL_AI_COST_FOCUS_BILLING_ACCOUNT_ID"
FORMATS = ("csv", "jsonl", "parquet")
DEFAULT_DIRECTORY = "ai-cost-focus"
FILE_PREFIX = "ai-cost-focus"

Row = dict[str, Any]
"""Column -> str, float, int, datetime (UTC) or None."""


class FocusError(ValueError):
    """Bad input or settings; the message is one line naming the file, line or variable."""


# ---------------------------------------------------------------- columns

STRING, DECIMAL, INTEGER, DATETIME = "string", "decimal", "integer", "datetime"

COLUMNS: tuple[tuple[str, str], ...] = (
    # FOCUS 1.2 columns, alphabetical as in the specification.
    ("BilledCost", DECIMAL),
    ("BillingAccountId", STRING),
    ("BillingCurrency", STRING),
    ("BillingPeriodEnd", DATETIME),
    ("BillingPeriodStart", DATETIME),
    ("ChargeCategory", STRING),
    ("ChargeClass", STRING),
    ("ChargeDescription", STRING),
    ("ChargeFrequency", STRING),
    ("ChargePeriodEnd", DATETIME),
    ("ChargePeriodStart", DATETIME),
    ("CommitmentDiscountCategory", STRING),
    ("CommitmentDiscountId", STRING),
    ("CommitmentDiscountName", STRING),
    ("CommitmentDiscountStatus", STRING),
    ("CommitmentDiscountType", STRING),
    ("ConsumedQuantity", DECIMAL),
    ("ConsumedUnit", STRING),
    ("ContractedCost", DECIMAL),
    ("EffectiveCost", DECIMAL),
    ("InvoiceIssuerName", STRING),
    ("ListCost", DECIMAL),
    ("PricingCategory", STRING),
    ("PricingQuantity", DECIMAL),
    ("PricingUnit", STRING),
    ("ProviderName", STRING),
    ("PublisherName", STRING),
    ("RegionId", STRING),
    ("ResourceId", STRING),
    ("ResourceName", STRING),
    ("ServiceCategory", STRING),
    ("ServiceName", STRING),
    ("ServiceSubcategory", STRING),
    ("SkuId", STRING),
    ("SubAccountId", STRING),
    ("Tags", STRING),
    # Custom columns.
    ("x_Operation", STRING),
    ("x_Commitment", STRING),
    ("x_Requests", INTEGER),
    ("x_UnpricedRequests", INTEGER),
    ("x_UnpricedReason", STRING),
    ("x_EstimatedRequests", INTEGER),
    ("x_InputTokens", INTEGER),
    ("x_CacheReadTokens", INTEGER),
    ("x_CacheWriteTokens", INTEGER),
    ("x_OutputTokens", INTEGER),
    ("x_ReasoningTokens", INTEGER),
    ("x_Images", INTEGER),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)

COLUMN_NOTES = {
    "BillingAccountId": f"null unless {ENV_BILLING_ACCOUNT} is set: a process cannot see its provider account",
    "ChargeClass": "null: no row is a correction of an earlier one",
    "CommitmentDiscountId": "the provisioned deployment (= ResourceId); null for on-demand, batch, flex, priority",
    "ContractedCost": "equals EffectiveCost (negotiated discounts applied), and ListCost for provisioned rows",
    "EffectiveCost": "0 for provisioned deployments: the commitment's own cost is billed by the provider",
    "PricingQuantity": "tokens or images; ListUnitPrice is left out: a row mixes input, output and cache rates",
    "RegionId": "known only from AWS Bedrock and Vertex AI endpoint host names, else null",
    "SubAccountId": "null: the project or workspace an API key belongs to is not on the wire",
}

# gen_ai.provider.name -> (ProviderName, ServiceName); ProviderName is also the InvoiceIssuerName.
PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("OpenAI", "OpenAI API"),
    "azure.ai.openai": ("Microsoft", "Azure OpenAI Service"),
    "anthropic": ("Anthropic", "Claude API"),
    "gcp.gemini": ("Google", "Gemini API"),
    "gcp.vertex_ai": ("Google Cloud", "Vertex AI"),
    "aws.bedrock": ("Amazon Web Services", "Amazon Bedrock"),
    "groq": ("Groq", "GroqCloud"),
    "mistral_ai": ("Mistral AI", "Mistral AI API"),
    "deepseek": ("DeepSeek", "DeepSeek API"),
    "x_ai": ("xAI", "xAI API"),
    "cohere": ("Cohere", "Cohere API"),
    "openrouter": ("OpenRouter", "OpenRouter"),
}
# Model name prefix -> the model's maker (PublisherName), e.g. Claude served by Amazon Bedrock.
PUBLISHERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("gpt", "o1", "o3", "o4", "chatgpt", "dall-e", "text-embedding-3", "text-embedding-ada", "whisper", "tts"),
        "OpenAI",
    ),
    (("claude", "anthropic."), "Anthropic"),
    (("gemini", "imagen", "google."), "Google"),
    (("amazon.", "nova"), "Amazon"),
    (("llama", "meta."), "Meta"),
    (("mistral", "mixtral", "codestral", "ministral", "pixtral"), "Mistral AI"),
    (("deepseek",), "DeepSeek"),
    (("grok",), "xAI"),
    (("command", "cohere."), "Cohere"),
)

# ---------------------------------------------------------------- aggregation


@dataclass(frozen=True, slots=True)
class _Key:
    hour: datetime
    provider: str
    server_address: str
    resource: str
    sku_model: str
    operation: str
    unit: str
    commitment: str | None
    unpriced_reason: str | None
    tags: str


@dataclass(slots=True)
class _Totals:
    requests: int = 0
    unpriced: int = 0
    estimated: int = 0
    effective_usd: float = 0.0
    list_usd: float = 0.0
    quantity: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tags(attributes: Mapping[str, Any]) -> str:
    found = {
        key[len(ATTRIBUTE_PREFIX) :]: str(value)
        for key, value in attributes.items()
        if key.startswith(ATTRIBUTE_PREFIX)
        and "." not in key[len(ATTRIBUTE_PREFIX) :]
        and key[len(ATTRIBUTE_PREFIX) :] not in RESERVED_DIMENSIONS
    }
    return json.dumps(dict(sorted(found.items())), ensure_ascii=False, separators=(",", ":"))


def hour_of(unix_nanos: int) -> datetime:
    return datetime.fromtimestamp(unix_nanos // 1_000_000_000, UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class FocusAggregator:
    """Sums AI request spans into FOCUS rows, one per hour and group. Not thread-safe by itself."""

    billing_account_id: str | None = None
    _groups: dict[_Key, _Totals] = field(default_factory=dict)

    def add(self, scope_name: str | None, start_unix_nanos: int, attributes: Mapping[str, Any]) -> bool:
        """Count one span; False (and nothing counted) when it is not a billable AI request of ours."""
        priced = attributes.get(names.PRICED)
        provider = _text(attributes.get(names.PROVIDER))
        if scope_name != SCOPE or not isinstance(priced, bool) or provider is None:
            return False  # other instrumentations' spans, and HTTP errors (no cost was ever decided)
        request_model = _text(attributes.get(names.REQUEST_MODEL)) or "unknown"
        sku_model = _text(attributes.get(names.RESPONSE_MODEL)) or request_model
        input_tokens = _int(attributes.get(names.INPUT_TOKENS))
        output_tokens = _int(attributes.get(names.OUTPUT_TOKENS))
        images = _int(attributes.get(names.IMAGE_COUNT))
        if input_tokens or output_tokens:
            unit, quantity = "Tokens", input_tokens + output_tokens
        elif images:
            unit, quantity = "Images", images
        else:
            unit, quantity = "Requests", 1
        key = _Key(
            hour=hour_of(start_unix_nanos),
            provider=provider,
            server_address=_text(attributes.get(names.SERVER_ADDRESS)) or "",
            resource=request_model,
            sku_model=sku_model,
            operation=_text(attributes.get(names.OPERATION)) or "unknown",
            unit=unit,
            commitment=(_text(attributes.get(names.COMMITMENT)) or Commitment.ON_DEMAND) if priced else None,
            unpriced_reason=None if priced else (_text(attributes.get(names.UNPRICED_REASON)) or "unknown"),
            tags=_tags(attributes),
        )
        totals = self._groups.setdefault(key, _Totals())
        totals.requests += 1
        totals.quantity += quantity
        if priced:
            effective = attributes.get(names.COST_AMOUNT)
            effective = float(effective) if isinstance(effective, int | float) else 0.0
            listed = attributes.get(names.LIST_COST)
            totals.effective_usd += effective
            totals.list_usd += float(listed) if isinstance(listed, int | float) else effective
            totals.estimated += attributes.get(names.ESTIMATED) is True
        else:
            totals.unpriced += 1
        totals.input_tokens += input_tokens
        totals.cache_read_tokens += _int(attributes.get(names.CACHE_READ_TOKENS))
        totals.cache_write_tokens += _int(attributes.get(names.CACHE_CREATION_TOKENS))
        totals.output_tokens += output_tokens
        totals.reasoning_tokens += _int(attributes.get(names.REASONING_TOKENS))
        totals.images += images
        return True

    def __len__(self) -> int:
        return len(self._groups)

    def take_rows(self, before: datetime | None = None) -> list[Row]:
        """Remove and return the rows of hours that start before `before` (all rows when None)."""
        keys = [key for key in self._groups if before is None or key.hour < before]
        keys.sort(key=lambda k: (k.hour, k.provider, k.resource, k.sku_model, k.operation, k.unit, k.tags))
        return [self._row(key, self._groups.pop(key)) for key in keys]

    def _row(self, key: _Key, totals: _Totals) -> Row:
        provider_name, service_name = PROVIDERS.get(key.provider, (key.provider, key.provider))
        resource_id = f"{key.server_address}/{key.resource}" if key.server_address else key.resource
        priced = key.commitment is not None
        committed = key.commitment == Commitment.PROVISIONED
        effective = totals.effective_usd if priced else None
        listed = totals.list_usd if priced else None
        how = f", {key.commitment.replace('_', ' ')}" if key.commitment else ", unpriced"
        return {
            "BilledCost": effective,
            "BillingAccountId": self.billing_account_id,
            "BillingCurrency": "USD",
            "BillingPeriodEnd": _next_month(key.hour),
            "BillingPeriodStart": key.hour.replace(day=1, hour=0),
            "ChargeCategory": "Usage",
            "ChargeClass": None,
            "ChargeDescription": f"{key.operation} {key.unit.lower()} of {key.sku_model} on {service_name}{how}",
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": key.hour + timedelta(hours=1),
            "ChargePeriodStart": key.hour,
            "CommitmentDiscountCategory": "Usage" if committed else None,
            "CommitmentDiscountId": resource_id if committed else None,
            "CommitmentDiscountName": key.resource if committed else None,
            "CommitmentDiscountStatus": "Used" if committed else None,
            "CommitmentDiscountType": "Provisioned Throughput" if committed else None,
            "ConsumedQuantity": float(totals.quantity),
            "ConsumedUnit": key.unit,
            "ContractedCost": listed if committed else effective,
            "EffectiveCost": effective,
            "InvoiceIssuerName": provider_name,
            "ListCost": listed,
            # An unpriced request is still bought per unit at a rate for the account; only the rate is unknown.
            "PricingCategory": "Committed" if committed else "Standard",
            "PricingQuantity": float(totals.quantity),
            "PricingUnit": key.unit,
            "ProviderName": provider_name,
            "PublisherName": _publisher(key.sku_model) or provider_name,
            "RegionId": _region(key.provider, key.server_address),
            "ResourceId": resource_id,
            "ResourceName": key.resource,
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": service_name,
            "ServiceSubcategory": "Generative AI",
            "SkuId": f"{key.provider}/{key.sku_model}/{key.unit.lower()}",
            "SubAccountId": None,
            "Tags": key.tags,
            "x_Operation": key.operation,
            "x_Commitment": key.commitment,
            "x_Requests": totals.requests,
            "x_UnpricedRequests": totals.unpriced,
            "x_UnpricedReason": key.unpriced_reason,
            "x_EstimatedRequests": totals.estimated,
            "x_InputTokens": totals.input_tokens,
            "x_CacheReadTokens": totals.cache_read_tokens,
            "x_CacheWriteTokens": totals.cache_write_tokens,
            "x_OutputTokens": totals.output_tokens,
            "x_ReasoningTokens": totals.reasoning_tokens,
            "x_Images": totals.images,
        }


def _next_month(moment: datetime) -> datetime:
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)


def _publisher(model: str) -> str | None:
    lowered = model.lower()
    for prefixes, publisher in PUBLISHERS:
        if lowered.startswith(prefixes):
            return publisher
    return None


def _region(provider: str, host: str) -> str | None:
    if provider == "aws.bedrock" and host.endswith(".amazonaws.com"):
        parts = host.split(".")
        return parts[1] if len(parts) >= 4 else None  # bedrock-runtime.us-east-1.amazonaws.com
    if provider == "gcp.vertex_ai" and host.endswith("-aiplatform.googleapis.com"):
        return host.removesuffix("-aiplatform.googleapis.com")  # us-central1-aiplatform.googleapis.com
    return None


# ---------------------------------------------------------------- writing


_FORMAT_OF_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
"""The suffixes that make a path a FOCUS file (else a directory), and the format each says."""


def _path_problem(path: Path) -> str | None:
    """Why `path` can be neither a FOCUS file (known by its suffix) nor a directory; None when it can."""
    if path.suffix.lower() in _FORMAT_OF_SUFFIX:
        return None
    try:
        if path.is_dir():
            return None
        if path.exists():
            return "is a file: a file path needs a .csv, .jsonl or .parquet suffix"
    except (OSError, ValueError):
        return None  # reported when the rows are written
    if path.suffix.lower() == ".json":  # a file meant, not a directory; and JSON Lines is not JSON
        return "ends in .json: a file path needs a .csv, .jsonl or .parquet suffix"
    return None


def format_for(path: str | os.PathLike[str], default: str = "csv") -> str:
    return _FORMAT_OF_SUFFIX.get(Path(path).suffix.lower(), default)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    return _iso(value) if isinstance(value, datetime) else value


def render_csv(rows: Iterable[Row], header: bool = True) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(COLUMN_NAMES)
    for row in rows:
        writer.writerow(["" if row[name] is None else _plain(row[name]) for name in COLUMN_NAMES])
    return out.getvalue()


def render_jsonl(rows: Iterable[Row]) -> str:
    return "".join(
        json.dumps({name: _plain(row[name]) for name in COLUMN_NAMES}, ensure_ascii=False) + "\n" for row in rows
    )


def parquet_table(rows: Sequence[Row]) -> Any:
    """A pyarrow Table with FOCUS types: decimals as float64, counts as int64, datetimes as UTC timestamps (ms,
    the coarsest unit Parquet stores)."""
    import pyarrow as pa  # type: ignore[import-untyped]  # optional: the `parquet` extra

    types = {STRING: pa.string(), DECIMAL: pa.float64(), INTEGER: pa.int64(), DATETIME: pa.timestamp("ms", tz="UTC")}
    schema = pa.schema([(name, types[kind]) for name, kind in COLUMNS])
    return pa.Table.from_pylist([{name: row[name] for name in COLUMN_NAMES} for row in rows], schema=schema)


def write_rows(rows: Sequence[Row], path: Path, output_format: str, *, append: bool) -> None:
    """Write rows to one file; CSV and JSON Lines are appended to when `append` (header only in a new
    file). A Parquet file cannot be appended to: with `append` it is rewritten with the rows it held
    first (read back as columns, not kept in memory between writes). A regular file is flock-ed
    while it is written, so processes of one host can share it."""
    if output_format == "parquet":
        _write_parquet(rows, path, append=append)
        return
    with _exclusive(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)) as fd:
        # Under the lock: of two processes appending to a new file, only the first writes a header.
        new_file = not append or os.fstat(fd).st_size == 0
        text = render_csv(rows, header=new_file) if output_format == "csv" else render_jsonl(rows)
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]


_parquet_locks: dict[Path, threading.Lock] = {}
_parquet_locks_lock = threading.Lock()
_unlocked_paths: set[Path] = set()
_open_fds: set[int] = set()


@contextmanager
def _exclusive(path: Path, flags: int) -> Iterator[int]:
    """`path` opened with `flags` and, when it is a regular file, flock-ed: the processes of this host
    writing the same file wait for each other. Where flock is missing or fails (another OS, some
    network filesystems) the file is used unlocked, as before, and that is logged once."""
    fd = os.open(path, flags, 0o666)
    _open_fds.add(fd)
    locked = False
    try:
        if sys.platform != "win32" and stat.S_ISREG(os.fstat(fd).st_mode):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                locked = True
            except OSError as exc:
                if path not in _unlocked_paths:
                    _unlocked_paths.add(path)
                    logger.warning("otel-ai-cost: cannot lock %s; other processes may write it too: %r", path, exc)
        yield fd
    finally:
        if locked:
            # Explicitly: a process forked meanwhile holds a copy of fd, and closing ours would not unlock.
            fcntl.flock(fd, fcntl.LOCK_UN)
        _open_fds.discard(fd)
        os.close(fd)


def _write_parquet(rows: Sequence[Row], path: Path, *, append: bool) -> None:
    """A regular file (through any symlink to it) is replaced by a temporary file renamed over it, so
    that a write cut short leaves it as it was; one write at a time per file: in this process, and with
    `append` in every process of the host (flock on `.NAME.lock` next to it), so that no process
    renames its file over rows another has just added. Anything else (a pipe, /dev/stdout) is written
    in place."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
    import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

    table = parquet_table(rows)
    if path.exists() and not path.is_file():  # is_file and exists follow symlinks
        # Built in memory, then written in one go: a pipe cannot seek, and pyarrow deletes the path
        # it was given when its write fails.
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        with path.open("wb") as out:
            out.write(buffer.getvalue())
        return
    target = path.resolve()
    with _parquet_locks_lock:
        lock = _parquet_locks.setdefault(target, threading.Lock())
    # The lock file is left in place: one removed while a process waits on it would lock nothing.
    sidecar = target.with_name(f".{target.name}.lock")
    with lock, _exclusive(sidecar, os.O_RDWR | os.O_CREAT) if append else nullcontext():
        if append and target.exists():
            table = pa.concat_tables([pq.read_table(target).cast(table.schema), table])
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # the umask's mode, as a new file
        try:
            if target.exists():
                shutil.copymode(target, temporary)  # whoever reads the file still may
            pq.write_table(table, temporary)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: a lock that another thread held at the fork
    would stay held in it for ever, so each lock is made anew."""
    global _parquet_locks_lock
    _parquet_locks_lock = threading.Lock()
    _parquet_locks.clear()
    # The files another thread was writing: closed, not unlocked (that would unlock the parent's flock).
    for fd in list(_open_fds):
        try:
            os.close(fd)
        except OSError:
            pass
    _open_fds.clear()
    for exporter in list(_exporters):
        exporter._after_fork_in_child()


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


# ---------------------------------------------------------------- the span exporter


_exporters: weakref.WeakSet[FocusSpanExporter] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class FocusSpanExporter(SpanExporter):
    """Aggregates AI request spans and writes FOCUS rows when an hour is over, on force_flush and on shutdown.

    `path` (or `OTEL_AI_COST_FOCUS_PATH`) is a file (.csv, .jsonl or .parquet), or a directory (default
    `./ai-cost-focus`) that gets one CSV/JSON Lines file per billing month, or one Parquet file per write;
    any other path is logged and `./ai-cost-focus` used instead. A write that fails
    keeps its rows for the next try and logs a warning; rows still unwritten at shutdown are logged as
    an error with their count. Never raises into the application.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        output_format: str | None = None,
        *,
        billing_account_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        raw_path = path if path is not None else os.environ.get(ENV_PATH) or DEFAULT_DIRECTORY
        chosen = (output_format or os.environ.get(ENV_FORMAT) or "").strip().lower()
        if chosen and chosen not in FORMATS:
            logger.error("otel-ai-cost: %s=%r is not one of %s; writing csv", ENV_FORMAT, chosen, ", ".join(FORMATS))
            chosen = ""
        self._path = Path(raw_path)
        problem = _path_problem(self._path)
        if problem:
            where = f"FOCUS path {raw_path}" if path is not None else f"{ENV_PATH}={raw_path}"
            if path is None and not os.environ.get(ENV_PATH):
                where = f"the default FOCUS directory ./{raw_path}"
            fallback = Path(DEFAULT_DIRECTORY)
            then = f"writing to ./{fallback} instead" if fallback != self._path else "no rows can be written"
            logger.error("otel-ai-cost: %s %s, or a directory; %s", where, problem, then)
            self._path = fallback
        self._is_file = self._path.suffix.lower() in _FORMAT_OF_SUFFIX
        self._format = chosen or (format_for(self._path) if self._is_file else "csv")
        if self._format == "parquet" and not parquet_available():
            logger.error("otel-ai-cost: FOCUS Parquet needs pyarrow (pip install 'otel-ai-cost[parquet]'); writing csv")
            self._format = "csv"
            if self._is_file:
                self._path = self._path.with_suffix(".csv")
        self._aggregator = FocusAggregator(billing_account_id or os.environ.get(ENV_BILLING_ACCOUNT) or None)
        self._pending: list[Row] = []
        self._lock = threading.Lock()
        self._clock = clock
        self._writes = 0
        self._shut_down = False
        self._warned: set[str] = set()
        _exporters.add(self)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def output_format(self) -> str:
        return self._format

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shut_down:
            return SpanExportResult.FAILURE
        try:
            with self._lock:
                for span in spans:
                    scope = span.instrumentation_scope.name if span.instrumentation_scope else None
                    self._aggregator.add(scope, span.start_time or 0, span.attributes or {})
                now = int(self._clock() * 1_000_000_000)
                self._pending.extend(self._aggregator.take_rows(before=hour_of(now)))
                if self._pending:
                    self._write_pending()
        except Exception as exc:
            self._warn_once("export", "otel-ai-cost: FOCUS export failed: %r", exc)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        try:
            with self._lock:
                self._pending.extend(self._aggregator.take_rows())
                return self._write_pending()
        except Exception as exc:
            self._warn_once("flush", "otel-ai-cost: FOCUS export failed: %r", exc)
            return False

    def shutdown(self) -> None:
        if self._shut_down:
            return
        if not self.force_flush():
            logger.error(
                "otel-ai-cost: %d FOCUS row(s) could not be written to %s and are lost", len(self._pending), self._path
            )
        self._shut_down = True

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        # The rows aggregated so far are the parent's to write; written here too, they would count twice.
        self._aggregator = FocusAggregator(self._aggregator.billing_account_id)
        self._pending = []

    def _write_pending(self) -> bool:
        rows, self._pending = self._pending, []
        unwritten = rows
        try:
            # A Parquet file keeps its earlier rows; a directory's Parquet files are new at each write.
            append = self._is_file or self._format != "parquet"
            for target, group in self._targets(rows):
                write_rows(group, target, self._format, append=append)
                written = {id(row) for row in group}
                unwritten = [row for row in unwritten if id(row) not in written]
        except Exception as exc:
            self._pending = unwritten + self._pending
            self._warn_once(
                "write", "otel-ai-cost: cannot write FOCUS rows to %s (kept for the next try): %r", self._path, exc
            )
            return False
        return True

    def _targets(self, rows: list[Row]) -> Iterator[tuple[Path, list[Row]]]:
        if not rows:
            return
        if self._is_file:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            yield self._path, rows
            return
        self._path.mkdir(parents=True, exist_ok=True)
        by_month: dict[str, list[Row]] = {}
        for row in rows:
            by_month.setdefault(row["BillingPeriodStart"].strftime("%Y-%m"), []).append(row)
        for month, group in sorted(by_month.items()):
            if self._format == "parquet":
                self._writes += 1
                name = f"{FILE_PREFIX}-{month}-{int(self._clock())}-{os.getpid()}-{self._writes}.parquet"
            else:
                name = f"{FILE_PREFIX}-{month}.{self._format}"
            yield self._path / name, group

    def _warn_once(self, where: str, message: str, *args: object) -> None:
        if where not in self._warned:
            self._warned.add(where)
            logger.warning(message, *args)


# ---------------------------------------------------------------- OTLP/JSON files


def rows_from_otlp_json(text: str, source: str, billing_account_id: str | None = None) -> tuple[list[Row], int]:
    """FOCUS rows from OTLP/JSON traces (collector `file` exporter lines, or one document); and the span count."""
    aggregator = FocusAggregator(billing_account_id)
    spans = 0
    for document, where in _documents(text, source):
        for scope_name, start, attributes in _spans(document, where):
            spans += aggregator.add(scope_name, start, attributes)
    return aggregator.take_rows(), spans


def _documents(text: str, source: str) -> Iterator[tuple[Any, str]]:
    if not text.strip():
        raise FocusError(f"{source}: empty file, expected OTLP/JSON traces")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":  # JSON Lines: one ExportTraceServiceRequest per line
            raise FocusError(f"{source}: line {exc.lineno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise FocusError(f"{source}: not OTLP/JSON traces: nested too deeply") from None
    else:
        for index, document in enumerate(whole if isinstance(whole, list) else [whole]):
            yield document, source if not isinstance(whole, list) else f"{source}: item {index + 1}"
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line), f"{source}: line {number}"
        except json.JSONDecodeError as exc:
            raise FocusError(f"{source}: line {number}: not JSON: {exc.msg}") from None
        except RecursionError:
            raise FocusError(f"{source}: line {number}: not OTLP/JSON traces: nested too deeply") from None


def _spans(document: Any, where: str) -> Iterator[tuple[str | None, int, dict[str, Any]]]:
    resource_spans = document.get("resourceSpans") if isinstance(document, dict) else None
    if not isinstance(resource_spans, list):
        raise FocusError(f"{where}: no `resourceSpans`: not OTLP/JSON traces")
    for resource in resource_spans:
        for scope_spans in _list(resource, "scopeSpans", where):
            scope = scope_spans.get("scope") if isinstance(scope_spans, dict) else None
            scope_name = scope.get("name") if isinstance(scope, dict) else None
            for span in _list(scope_spans, "spans", where):
                if not isinstance(span, dict):
                    raise FocusError(f"{where}: a span is not an object")
                try:
                    start = int(span.get("startTimeUnixNano", 0))
                except (TypeError, ValueError):
                    raise FocusError(f"{where}: span startTimeUnixNano is not a number") from None
                if not 0 <= start < _LAST_NANOS:
                    raise FocusError(f"{where}: span startTimeUnixNano {start} is not a time between 1970 and 9999")
                yield scope_name, start, _attributes(span.get("attributes"), where)


_LAST_NANOS = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp()) * 1_000_000_000


def _list(parent: Any, key: str, where: str) -> list[Any]:
    value = parent.get(key, []) if isinstance(parent, dict) else None
    if not isinstance(value, list):
        raise FocusError(f"{where}: `{key}` is not a list")
    return value


def _attributes(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise FocusError(f"{where}: span attributes are not a list")
    return {
        item["key"]: _any_value(item.get("value"))
        for item in raw
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    }


def _any_value(value: Any) -> Any:
    """An OTLP/JSON AnyValue: 64-bit integers come as strings, doubles may be "NaN"/"Infinity"."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    try:
        if "intValue" in value:
            return int(value["intValue"])
        if "doubleValue" in value:
            return float(value["doubleValue"])
    except (TypeError, ValueError):
        return None
    if "arrayValue" in value:
        items = value["arrayValue"].get("values", []) if isinstance(value["arrayValue"], dict) else []
        return [_any_value(item) for item in items]
    return None
