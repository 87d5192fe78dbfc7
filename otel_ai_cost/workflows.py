"""Workflows: the cost of one run of a multi-step job (an agent, a pipeline) and how it ended.

    with workflow("triage") as wf:
        plan = client.chat.completions.create(...)
        answer = client.chat.completions.create(...)
        wf.outcome = "success"            # or wf.set_outcome("escalated"); any short string

    @workflow("summarize")                # each call is a run; current_workflow() is that run
    async def summarize(doc: str) -> str: ...

A run is an INTERNAL span `workflow {name}`, the parent of the AI request spans sent inside it. It
adds up the cost (USD), the input and output tokens and the number of AI requests (model calls,
i.e. agent iterations) of every request that finishes inside it, on this thread, in asyncio tasks
and in code run with `contextvars.copy_context().run`. The outcome is what the code set; an
exception escaping the block makes it `failure` (with `error.type`); otherwise it is `unknown`.

When the run ends: span attributes `ai.cost.workflow.*`, the histogram `ai.cost.workflow.cost` (USD
per run) and the counter `ai.cost.workflow.runs`, by workflow name, outcome and the tag dimensions
in force when the run started, so dashboards show the cost per successful outcome. A stream still
being read when the run ends is added to `wf.spent` but not to what the run already recorded.
Without the instrumentation a workflow still runs its block and adds nothing up; it never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from otel_ai_cost.scopes import SpendScope, active_recorder, active_scopes
from otel_ai_cost.tags import OTHER, _CardinalityGuard, current_tags, sanitize_value
from otel_ai_cost.telemetry import names

if TYPE_CHECKING:
    from otel_ai_cost.telemetry.recorder import Recorder

__all__ = ["FAILURE", "SUCCESS", "UNKNOWN", "current_workflow", "workflow"]

_log = logging.getLogger(__name__)

SUCCESS: Final = "success"
FAILURE: Final = "failure"
UNKNOWN: Final = "unknown"
"""The outcome of a run that neither set one nor raised."""
MAX_NAMES: Final = 100
MAX_OUTCOMES: Final = 100
# Workflow names and outcomes are metric labels: past these many distinct values they become `other`.
_guard = _CardinalityGuard(max_values=MAX_NAMES, max_dimensions=2, known=("name", "outcome"))


class workflow(SpendScope):  # lower-case, like tags() and budget()
    """One run of a named workflow; see the module docstring.

    As a `with` statement use one object for one run (`with workflow("x")` as written makes a new
    one each time); as a decorator each call is a run of its own.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = sanitize_value(name) or UNKNOWN
        self._outcome: str | None = None
        self._span: Span | None = None
        self._recorder: Recorder | None = None
        self._tags: Mapping[str, str] = {}

    def __repr__(self) -> str:
        return f"workflow({self.name!r}, outcome={self.outcome!r})"

    @property
    def outcome(self) -> str:
        """What the code set (sanitized like a tag value), else `unknown`; `failure` after an exception."""
        return self._outcome or UNKNOWN

    @outcome.setter
    def outcome(self, value: str) -> None:
        self._outcome = sanitize_value(value)

    def set_outcome(self, value: str) -> None:
        self.outcome = value

    def _fresh(self) -> workflow:
        return workflow(self.name)

    def _entered(self) -> None:
        try:
            self._recorder = active_recorder()
            if self._recorder is None:
                return
            self._tags = current_tags()
            self._span = self._recorder.tracer.start_span(
                f"workflow {self.name}", kind=SpanKind.INTERNAL, attributes={names.WORKFLOW_NAME: self.name}
            )
        except Exception:  # never into the caller
            self._recorder, self._span = None, None
            _log.debug("otel-ai-cost: starting workflow %r failed", self.name, exc_info=True)

    def _context(self, ctx: Context) -> Context:
        ctx = super()._context(ctx)
        return trace.set_span_in_context(self._span, ctx) if self._span is not None else ctx

    def _exiting(self, exc: BaseException | None) -> None:
        if exc is not None:
            self._outcome = FAILURE
        recorder, span = self._recorder, self._span
        self._recorder, self._span = None, None
        if recorder is None or span is None:
            return
        try:
            self._record(recorder, span, exc)
        except Exception as error:
            recorder.internal_error("workflow", error)
        finally:
            span.end()

    def _record(self, recorder: Recorder, span: Span, exc: BaseException | None) -> None:
        spent = self.spent
        tags = recorder.tag_policy.resolve(self._tags)
        span.set_attributes(tags.span_attributes)
        span.set_attributes(
            {
                names.WORKFLOW_OUTCOME: self.outcome,
                names.WORKFLOW_COST: spent.usd,
                names.WORKFLOW_REQUESTS: spent.requests,
                names.WORKFLOW_UNPRICED_REQUESTS: spent.unpriced_requests,
                names.WORKFLOW_INPUT_TOKENS: spent.input_tokens,
                names.WORKFLOW_OUTPUT_TOKENS: spent.output_tokens,
            }
        )
        if exc is not None:
            span.set_attribute(names.ERROR_TYPE, type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR))  # no message: it may quote a prompt
        attributes = {
            **tags.metric_attributes,
            names.WORKFLOW_NAME: _guard.admit("name", self.name) or OTHER,
            names.WORKFLOW_OUTCOME: _guard.admit("outcome", self.outcome) or OTHER,
        }
        recorder.workflow_cost.record(spent.usd, attributes)
        recorder.workflow_runs.add(1, attributes)


def current_workflow() -> workflow | None:
    """The innermost workflow run in force here (e.g. inside a decorated function), or None."""
    for scope in reversed(active_scopes()):
        if isinstance(scope, workflow):
            return scope
    return None
