"""One billable HTTP attempt -> one span and its metric records.

The transport opens a `Call` before sending and finishes it exactly once: with the parsed
response, with an HTTP error status, or with the exception the send raised.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Meter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from otel_ai_cost.budgets import TagBudget, load_tag_budgets, tag_budgets_for
from otel_ai_cost.pricing import Cost, PriceEngine, UnpricedReason
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.scopes import SpendScope, active_scopes, add_request
from otel_ai_cost.tags import ResolvedTags, TagPolicy, _tag_snapshot
from otel_ai_cost.telemetry import names
from otel_ai_cost.usage import Usage

logger = logging.getLogger(__name__)


class Recorder:
    """Holds the tracer, the instruments, the price engine and the tag policy."""

    def __init__(
        self,
        tracer: Tracer,
        meter: Meter,
        engine: PriceEngine,
        tag_policy: TagPolicy,
        *,
        semconv_histograms: bool = True,
        estimate_stream_usage: bool = False,
    ) -> None:
        self.estimate_stream_usage = estimate_stream_usage
        self.tracer = tracer
        self.engine = engine
        self.tag_policy = tag_policy
        self.cost = meter.create_counter(names.COST[0], unit=names.COST[1], description="Cost of GenAI requests")
        self.tokens = meter.create_counter(
            names.TOKENS[0], unit=names.TOKENS[1], description="Tokens by type: input, output, cache_read, ..."
        )
        self.savings = meter.create_counter(
            names.SAVINGS_COUNTER[0], unit=names.SAVINGS_COUNTER[1], description="What caching and batch saved"
        )
        self.list_cost = meter.create_counter(
            names.LIST_COST_COUNTER[0],
            unit=names.LIST_COST_COUNTER[1],
            description="Cost at on-demand list prices, before discounts and commitments (provisioned costs 0)",
        )
        self.unpriced = meter.create_counter(
            names.UNPRICED[0], unit=names.UNPRICED[1], description="Requests with no known price"
        )
        self.images = meter.create_counter(names.IMAGES[0], unit=names.IMAGES[1], description="Images generated")
        # Counted here, not only by the optional semconv duration histogram, so that cost per request and
        # error rates by team keep working when another instrumentation owns the semconv metrics.
        self.requests = meter.create_counter(
            names.REQUESTS[0], unit=names.REQUESTS[1], description="GenAI requests, failed ones with error.type"
        )
        self.internal_errors = meter.create_counter(
            names.INTERNAL_ERRORS[0], unit=names.INTERNAL_ERRORS[1], description="Errors inside otel-ai-cost"
        )
        # Budgets and workflows (otel_ai_cost.budgets, .workflows) record with the meter of the recorder in force.
        self.budget_exceeded = meter.create_counter(
            names.BUDGET_EXCEEDED[0], unit=names.BUDGET_EXCEEDED[1], description="AI requests over a spent budget"
        )
        self.workflow_cost = meter.create_histogram(
            names.WORKFLOW_COST_HISTOGRAM[0],
            unit=names.WORKFLOW_COST_HISTOGRAM[1],
            description="Cost of one workflow run: the AI requests finished inside it",
            explicit_bucket_boundaries_advisory=list(names.WORKFLOW_COST_BUCKETS),
        )
        self.workflow_runs = meter.create_counter(
            names.WORKFLOW_RUNS[0], unit=names.WORKFLOW_RUNS[1], description="Workflow runs by outcome"
        )
        self.tag_budgets: tuple[TagBudget, ...] = load_tag_budgets()  # OTEL_AI_COST_BUDGETS_FILE
        self.token_usage = None
        self.duration = None
        if semconv_histograms:
            self.token_usage = meter.create_histogram(
                names.TOKEN_USAGE[0],
                unit=names.TOKEN_USAGE[1],
                description="Number of input and output tokens used",
                explicit_bucket_boundaries_advisory=list(names.TOKEN_BUCKETS),
            )
            self.duration = meter.create_histogram(
                names.OPERATION_DURATION[0],
                unit=names.OPERATION_DURATION[1],
                description="GenAI operation duration",
                explicit_bucket_boundaries_advisory=list(names.DURATION_BUCKETS),
            )
        self._logged_errors: set[str] = set()
        self._metric_attributes: dict[tuple[int, str, str, str, str], MetricAttributes] = {}
        self._billed_once: dict[str, None] = {}
        self._billed_once_lock = threading.Lock()

    def start(
        self, facts: RequestFacts, server_address: str, server_port: int | None, ctx: Context | None = None
    ) -> Call:
        """Open the call's span; `ctx` is the current context when the caller has already read it."""
        model = facts.request_model or facts.deployment
        span = self.tracer.start_span(
            f"{facts.operation} {model}" if model else facts.operation,
            kind=SpanKind.CLIENT,
            attributes={
                names.OPERATION: facts.operation,
                names.PROVIDER: facts.provider,
                **({names.REQUEST_MODEL: model} if model else {}),
                names.SERVER_ADDRESS: server_address,
                **({names.SERVER_PORT: server_port} if server_port else {}),
            },
        )
        return Call(self, facts, span, ctx)

    def metric_attributes(
        self, tags: ResolvedTags, provider: str, operation: str, request_model: str, response_model: str
    ) -> MetricAttributes:
        """The metric attributes of requests with these tags and models, built once and shared."""
        key = (id(tags), provider, operation, request_model, response_model)
        found = self._metric_attributes.get(key)
        if found is None or found.tags is not tags:  # `tags` kept in the entry: its id is not reused
            if len(self._metric_attributes) >= _SHARED_ATTRIBUTES_LIMIT:
                self._metric_attributes.clear()
            found = MetricAttributes(
                tags,
                {
                    names.PROVIDER: provider,
                    names.OPERATION: operation,
                    names.REQUEST_MODEL: request_model,
                    names.RESPONSE_MODEL: response_model,
                    **tags.metric_attributes,
                },
            )
            self._metric_attributes[key] = found
        return found

    def billable(self, parsed: ParsedResponse) -> bool:
        """Whether the response is a billable request: not one that is none, or was billed already."""
        if not parsed.billable:
            return False
        once = parsed.billed_once_id
        if once is None:
            return True
        with self._billed_once_lock:
            if once in self._billed_once:
                return False
            self._billed_once[once] = None
            if len(self._billed_once) > _BILLED_ONCE_KEPT:
                del self._billed_once[next(iter(self._billed_once))]
        return True

    def internal_error(self, where: str, exc: BaseException) -> None:
        """Count an error of ours; log it once per place. Never raises."""
        try:
            self.internal_errors.add(1, {"ai.cost.error.where": where})
            if where not in self._logged_errors:
                self._logged_errors.add(where)
                logger.warning("otel-ai-cost: internal error in %s (logged once): %r", where, exc, exc_info=exc)
        except Exception:  # noqa: S110 - telemetry about telemetry must not fail either
            pass


_SHARED_ATTRIBUTES_LIMIT = 4096
"""Distinct sets of metric attributes kept built; more (hostile model names, say) start over."""
_BILLED_ONCE_KEPT = 10_000
"""Ids of background responses billed, kept so that fetching one again does not bill it again."""


class MetricAttributes:
    """The metric attributes of one kind of request, and each with one more attribute, built once.

    The OpenTelemetry SDK copies the attributes a measurement is given and never changes them, so
    every request of a kind records the same dicts; nobody may mutate them.
    """

    __slots__ = ("tags", "base", "_plus")

    def __init__(self, tags: ResolvedTags, base: dict[str, Any]) -> None:
        self.tags = tags
        self.base = base
        self._plus: dict[tuple[str, str], dict[str, Any]] = {}

    def plus(self, name: str, value: str) -> dict[str, Any]:
        """`base` with `name: value` added."""
        found = self._plus.get((name, value))
        if found is None:
            if len(self._plus) >= _SHARED_ATTRIBUTES_LIMIT:  # error types from exception names, say
                self._plus.clear()
            found = self._plus[name, value] = {**self.base, name: value}
        return found


_forks = 0
"""Forks this process came out of: a call belongs to the process that sent it."""


def _forked() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


class Call:
    """One HTTP attempt to a GenAI API; finished exactly once, from any thread, in the process that
    sent it (a forked child that ends the copy it holds, at exit say, finishes nothing)."""

    __slots__ = ("recorder", "facts", "span", "started", "_done", "_lock", "_tags", "_scopes", "_process")

    def __init__(self, recorder: Recorder, facts: RequestFacts, span: Span, ctx: Context | None = None) -> None:
        self.recorder = recorder
        self.facts = facts
        self.span = span
        self.started = time.perf_counter()
        self._done = False
        self._lock = threading.Lock()
        self._process = _forks
        # Tags belong to the code that sent the request, not to whoever finishes reading a stream.
        self._tags = _tag_snapshot(ctx)
        self._scopes: tuple[SpendScope, ...] = active_scopes(ctx)  # the budgets and workflows it was sent in
        if recorder.tag_budgets:
            self._scopes += tag_budgets_for(recorder, self._tags)

    def _claim(self) -> bool:
        if self._process != _forks:
            return False  # a forked child's copy: the span, and the request, are the parent's
        with self._lock:
            if self._done:
                return False
            self._done = True
            return True

    def finish(self, parsed: ParsedResponse, description: str | None = None) -> None:
        """The response was read; a stream that ended in an error (event or exception) is failed with
        its usage kept."""
        error_type = parsed.error_type
        if error_type is not None and exported_name(error_type) is None:
            error_type = OTHER_ERROR  # named by the body (an error event's type, a header)
        self._complete(parsed.usage, parsed, error_type, description or error_type)

    def fail(self, error_type: str, description: str | None = None) -> None:
        """An HTTP error status or an exception: no cost, `error.type` set."""
        self._complete(self.facts.usage(), None, error_type, description)

    def fail_reading(self, parsed: ParsedResponse | None, error_type: str, description: str | None = None) -> None:
        """Reading the response raised (a timeout, the connection lost, a stream's exception event):
        failed, with the usage the part read had reported (an Anthropic or Gemini stream reports its
        input first); `parsed` is what that part said, None when it could not be read."""
        if parsed is not None and parsed.usage_found:
            parsed.error_type = error_type
            self.finish(parsed, description)
        else:
            self.fail(error_type, description)

    def _complete(
        self, usage: Usage, parsed: ParsedResponse | None, error_type: str | None, description: str | None
    ) -> None:
        if not self._claim():
            return
        attributes: dict[str, Any] = {}
        try:
            if error_type is not None:
                self.span.set_status(Status(StatusCode.ERROR, description))
            self._record(usage, parsed, attributes, error_type=error_type)
        except Exception as exc:
            self.recorder.internal_error("record", exc)
        finally:
            self._end(attributes)

    def _end(self, attributes: dict[str, Any]) -> None:
        """Set the attributes `_record` gathered in one call (the SDK locks and checks once, not per
        attribute), even those gathered before an error of ours, and end the span."""
        try:
            self.span.set_attributes(attributes)
        except Exception as exc:
            self.recorder.internal_error("record", exc)
        try:
            self.span.end()  # runs the span processors: one that raises must not reach the caller
        except Exception as exc:
            self.recorder.internal_error("record", exc)

    def _record(
        self, usage: Usage, parsed: ParsedResponse | None, attributes: dict[str, Any], error_type: str | None
    ) -> None:
        """Record the metrics and put the span's attributes in `attributes`."""
        recorder = self.recorder
        facts = self.facts
        duration = time.perf_counter() - self.started
        tags = recorder.tag_policy.resolve(self._tags)
        if usage.response_model is not None and exported_name(usage.response_model) is None:
            usage.response_model = None  # priced and labelled as the model asked for

        request_model = facts.request_model or facts.deployment
        if facts.retrieval:  # a fetched background response: the model it ran is all there is to say
            request_model = usage.response_model
        shared = recorder.metric_attributes(
            tags,
            facts.provider,
            facts.operation,
            request_model or "unknown",
            usage.response_model or usage.request_model or "unknown",
        )
        metric_attributes = shared.base
        attributes.update(tags.span_attributes)

        if parsed is not None and not recorder.billable(parsed):
            if error_type is None:
                _set_response_ids(attributes, usage, parsed)  # a poll, or a response billed already
                return
            parsed = None  # failed, with a usage billed already or none to bill: the failure alone
        if facts.retrieval and request_model:
            self.span.update_name(f"{facts.operation} {request_model}")
            attributes[names.REQUEST_MODEL] = request_model

        if error_type is not None:
            attributes[names.ERROR_TYPE] = error_type
            error_attributes = shared.plus(names.ERROR_TYPE, error_type)
            recorder.requests.add(1, error_attributes)
            if recorder.duration is not None:
                recorder.duration.record(duration, error_attributes)
            if parsed is not None and not (parsed.usage_found or usage.estimated or usage.image_count):
                _set_response_ids(attributes, usage, parsed)
                parsed = None  # failed before any usage: a failure, not a request without a price
            if parsed is None:
                if self._scopes:
                    add_request(self._scopes, 0.0, 0, 0)
                return
        else:
            recorder.requests.add(1, metric_attributes)
            if recorder.duration is not None:
                recorder.duration.record(duration, metric_attributes)

        assert parsed is not None
        if not parsed.usage_found and recorder.estimate_stream_usage and facts.stream:
            _estimate(usage, facts, parsed)
        _set_response_attributes(attributes, usage, parsed)

        cost = recorder.engine.price(usage) if parsed.usage_found or usage.estimated or usage.image_count else None
        if cost is None:
            cost = Cost.unpriced(UnpricedReason.NO_USAGE, usage.model)
        _set_cost_attributes(attributes, cost)
        if self._scopes:
            tokens_known = parsed.usage_found or usage.estimated
            add_request(
                self._scopes,
                cost.total_usd if cost.priced else None,
                usage.input_tokens if tokens_known else 0,
                usage.output_tokens if tokens_known else 0,
            )
        if cost.priced:
            cost_attributes = shared.plus(names.COMMITMENT, cost.commitment)
            recorder.cost.add(cost.total_usd, cost_attributes)
            recorder.list_cost.add(cost.list_usd, cost_attributes)
            if cost.savings_usd > 0:
                recorder.savings.add(cost.savings_usd, cost_attributes)
        else:
            recorder.unpriced.add(1, shared.plus(names.UNPRICED_REASON, cost.unpriced_reason or "unknown"))

        if parsed.usage_found or usage.estimated:
            self._record_tokens(usage, shared)
        if usage.image_count:
            recorder.images.add(
                usage.image_count,
                {
                    **metric_attributes,
                    names.IMAGE_SIZE: usage.image_size or "unknown",
                    names.IMAGE_QUALITY: usage.image_quality or "unknown",
                },
            )

    def _record_tokens(self, usage: Usage, shared: MetricAttributes) -> None:
        recorder = self.recorder
        by_type = (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens + usage.cache_write_1h_tokens),
            ("reasoning", usage.reasoning_tokens),
        )
        for token_type, count in by_type:
            if count > 0:
                recorder.tokens.add(count, shared.plus(names.COST_TOKEN_TYPE, token_type))
        if recorder.token_usage is not None:
            recorder.token_usage.record(usage.input_tokens, shared.plus(names.TOKEN_TYPE, "input"))
            if usage.output_tokens or usage.operation != "embeddings":
                recorder.token_usage.record(usage.output_tokens, shared.plus(names.TOKEN_TYPE, "output"))


CHARS_PER_TOKEN = 4
"""The rule of thumb for English text with the common BPE tokenizers."""


def _estimate(usage: Usage, facts: RequestFacts, parsed: ParsedResponse) -> None:
    usage.input_tokens = facts.request_bytes // CHARS_PER_TOKEN
    usage.output_tokens = parsed.content_events
    usage.estimated = True


OTHER_ERROR = "_OTHER"
"""`error.type` of an error a response body named with something that is no name (semconv's fallback)."""


def exported_name(value: str) -> str | None:
    """`value`, a name a response body gave (a model, an id, a finish reason, an error type), if it
    looks like one: at most 256 printable ASCII characters without spaces. Else None: a body may
    put anything there, a prompt included, and it would go to spans, metric labels, logs and billing
    rows."""
    if len(value) <= 256 and value.isascii() and value.isprintable() and " " not in value:
        return value
    return None


def _set_response_ids(attributes: dict[str, Any], usage: Usage, parsed: ParsedResponse) -> None:
    if usage.response_model:
        attributes[names.RESPONSE_MODEL] = usage.response_model
    if parsed.response_id and exported_name(parsed.response_id) is not None:
        attributes[names.RESPONSE_ID] = parsed.response_id


def _set_response_attributes(attributes: dict[str, Any], usage: Usage, parsed: ParsedResponse) -> None:
    _set_response_ids(attributes, usage, parsed)
    if parsed.finish_reasons:
        finish_reasons = [reason for reason in parsed.finish_reasons if exported_name(reason) is not None]
        if finish_reasons:
            attributes[names.FINISH_REASONS] = finish_reasons
    if parsed.usage_found or usage.estimated:
        attributes[names.INPUT_TOKENS] = usage.input_tokens
        attributes[names.OUTPUT_TOKENS] = usage.output_tokens
        if usage.cache_read_tokens:
            attributes[names.CACHE_READ_TOKENS] = usage.cache_read_tokens
        if usage.cache_write_tokens or usage.cache_write_1h_tokens:
            attributes[names.CACHE_CREATION_TOKENS] = usage.cache_write_tokens + usage.cache_write_1h_tokens
        if usage.reasoning_tokens:
            attributes[names.REASONING_TOKENS] = usage.reasoning_tokens
        if usage.web_search_requests:
            attributes[names.WEB_SEARCH_COUNT] = usage.web_search_requests
        if usage.file_search_requests:
            attributes[names.FILE_SEARCH_COUNT] = usage.file_search_requests
    if usage.image_count:
        attributes[names.IMAGE_COUNT] = usage.image_count
        if usage.image_size:
            attributes[names.IMAGE_SIZE] = usage.image_size
        if usage.image_quality:
            attributes[names.IMAGE_QUALITY] = usage.image_quality


def _set_cost_attributes(attributes: dict[str, Any], cost: Cost) -> None:
    attributes[names.PRICED] = cost.priced
    if not cost.priced:
        attributes[names.UNPRICED_REASON] = cost.unpriced_reason or "unknown"
        return
    attributes[names.COST_AMOUNT] = cost.total_usd
    attributes[names.COST_CURRENCY] = "USD"
    attributes[names.ESTIMATED] = cost.estimated
    attributes[names.COMMITMENT] = cost.commitment
    if cost.price_source:
        attributes[names.PRICE_SOURCE] = cost.price_source
    if cost.list_usd != cost.total_usd:
        attributes[names.LIST_COST] = cost.list_usd
