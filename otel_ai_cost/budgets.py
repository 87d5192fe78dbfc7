"""Spend limits in code: `budget()` stops (or warns about) AI requests once a block has spent enough.

    with budget(usd=0.50, name="triage"):
        agent.run(ticket)          # a request sent after 0.50 USD was spent raises BudgetExceeded

    @budget(tokens=200_000, requests=20, on_exceed="warn", name="summaries")
    async def summarize(doc: str) -> str: ...

Every AI request that finishes inside the block adds its cost, its input and output tokens and one
request to the budget, and to every enclosing budget (nested budgets each hold). BEFORE a request
is sent, each budget in force is checked: one that has reached any of its limits

- `on_exceed="raise"` (default): raises `BudgetExceeded` from the HTTP client's `send`; nothing is
  sent. The openai SDK lets it through as it is; the anthropic SDK wraps it in
  `anthropic.APIConnectionError` (its `__cause__`) and retries it like one, so catch that and use
  `BudgetExceeded.in_chain(exc)`, or set `max_retries=0` for code under a budget.
- `on_exceed="warn"`: logs a warning (once per budget) and sends the request.

Either way the counter `ai.cost.budget.exceeded` counts the request, with the budget name and the
action. A request is counted when it finishes, not when it is sent, so a budget is overshot by the
requests in flight when it is reached and by the last request (the one that crossed the limit was
allowed). An unpriced request adds tokens and a request but no USD (its price is unknown).

Budgets follow the context like `tags()`: asyncio tasks and `contextvars.copy_context().run`.
As a `with` statement the object keeps its spend across blocks (one object, one running total, which
several threads may enter at once); as a decorator each call gets a budget of its own.

Budgets for a whole process come from the file `OTEL_AI_COST_BUDGETS_FILE` names, in the format of
the alerts' budgets file (`dashboards/alerts/budgets.example.yaml`), read when instrumenting: each
entry is a `TagBudget` for every request whose tags (as recorded: defaults, resource, baggage and
`tags()`) include its `tags`, with `usd` per rolling `period` and `on_exceed` (default `warn`).
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final, Literal

from otel_ai_cost.scopes import Spend, SpendScope, active_scopes
from otel_ai_cost.telemetry import names

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from otel_ai_cost.telemetry.recorder import Recorder

__all__ = [
    "ENV_BUDGETS_FILE",
    "BudgetExceeded",
    "OnExceed",
    "TagBudget",
    "budget",
    "check_before_send",
    "load_tag_budgets",
    "period_seconds",
]

_log = logging.getLogger(__name__)

OnExceed = Literal["raise", "warn"]
DEFAULT_NAME: Final = "unnamed"
ENV_BUDGETS_FILE: Final = "OTEL_AI_COST_BUDGETS_FILE"
WINDOW_STEPS: Final = 60
"""A rolling period is kept as this many steps: spend leaves the window one step at a time."""
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_PART: Final = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")


class BudgetExceeded(Exception):
    """A request was about to be sent inside a budget that is already spent; it was not sent.

    `budget_name`, `limit_kind` (`usd`, `tokens` or `requests`), `limit` and `spent` say which limit.
    """

    def __init__(self, budget_name: str, limit_kind: str, limit: float, spent: float) -> None:
        amounts = f"${spent:g} of ${limit:g}" if limit_kind == "usd" else f"{spent:g} {limit_kind} of {limit:g}"
        super().__init__(f"budget {budget_name!r} exceeded: spent {amounts}")
        self.budget_name = budget_name
        self.limit_kind = limit_kind
        self.limit = limit
        self.spent = spent

    def __reduce__(self) -> tuple[type[BudgetExceeded], tuple[str, str, float, float]]:
        return type(self), (self.budget_name, self.limit_kind, self.limit, self.spent)

    @staticmethod
    def in_chain(exc: BaseException | None) -> BudgetExceeded | None:
        """The BudgetExceeded behind `exc` (itself or a `__cause__`/`__context__`), e.g. in an SDK's error."""
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            if isinstance(exc, BudgetExceeded):
                return exc
            seen.add(id(exc))
            exc = exc.__cause__ or exc.__context__
        return None


class budget(SpendScope):  # lower-case, like tags() and the context managers of contextlib
    """A spend limit for the AI requests of a block or a function; see the module docstring.

    At least one of `usd`, `tokens` (input + output) or `requests` is required; a limit of 0 lets
    nothing through. `name` labels the metric, the log line and `BudgetExceeded`.
    """

    def __init__(
        self,
        *,
        usd: float | None = None,
        tokens: int | None = None,
        requests: int | None = None,
        on_exceed: OnExceed = "raise",
        name: str | None = None,
    ) -> None:
        super().__init__()
        if usd is None and tokens is None and requests is None:
            raise ValueError("budget() needs at least one limit: usd, tokens or requests")
        for kind, limit in (("usd", usd), ("tokens", tokens), ("requests", requests)):
            if limit is not None and not (isinstance(limit, int | float) and math.isfinite(limit) and limit >= 0):
                raise ValueError(f"budget {kind} must be a finite number >= 0, got {limit!r}")
        if on_exceed not in ("raise", "warn"):
            raise ValueError(f"on_exceed must be 'raise' or 'warn', got {on_exceed!r}")
        self.usd = usd
        self.tokens = tokens
        self.requests = requests
        self.on_exceed: OnExceed = on_exceed
        self.name = name or DEFAULT_NAME
        self._warned = False

    def __repr__(self) -> str:
        limits = ", ".join(
            f"{k}={v!r}"
            for k, v in (("usd", self.usd), ("tokens", self.tokens), ("requests", self.requests))
            if v is not None
        )
        return f"budget({limits}, on_exceed={self.on_exceed!r}, name={self.name!r})"

    def _fresh(self) -> budget:
        return budget(
            usd=self.usd, tokens=self.tokens, requests=self.requests, on_exceed=self.on_exceed, name=self.name
        )

    def exceeded(self) -> BudgetExceeded | None:
        """The first limit reached (usd, tokens, requests), as the exception to raise; None while under."""
        spent = self.spent
        for kind, limit, value in (
            ("usd", self.usd, spent.usd),
            ("tokens", self.tokens, spent.tokens),
            ("requests", self.requests, spent.requests),
        ):
            if limit is not None and value >= limit:
                return BudgetExceeded(self.name, kind, limit, value)
        return None

    def _warn_once(self, over: BudgetExceeded) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        _log.warning("otel-ai-cost: %s; sending AI requests anyway (on_exceed='warn')", over)


class TagBudget(budget):
    """A process-wide USD budget for every request carrying some tags, over a rolling period.

    The window is the last `period` in `WINDOW_STEPS` steps (so between 59/60 of it and all of it).
    Made from `OTEL_AI_COST_BUDGETS_FILE` by `load_tag_budgets`; not entered with `with`.
    """

    def __init__(
        self,
        *,
        tags: Mapping[str, str],
        usd: float,
        period: float,
        on_exceed: OnExceed = "warn",
        name: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(usd=usd, on_exceed=on_exceed, name=name or "/".join(tags.values()))
        if not (math.isfinite(period) and period > 0):
            raise ValueError(f"budget period must be a positive number of seconds, got {period!r}")
        self.tags = dict(tags)
        self.period = period
        self._step = period / WINDOW_STEPS
        self._clock = clock
        self._steps: list[tuple[int, float]] = [(-WINDOW_STEPS, 0.0)] * WINDOW_STEPS  # (step number, USD)
        self._warned_at: float | None = None

    def _warn_once(self, over: BudgetExceeded) -> None:
        """Once per period: a rolling daily budget of a long-running server warns again on a later day."""
        now = self._clock()
        with self._lock:
            if self._warned_at is not None and now - self._warned_at < self.period:
                return
            self._warned_at = now
        _log.warning("otel-ai-cost: %s; sending AI requests anyway (on_exceed='warn')", over)

    def matches(self, request_tags: Mapping[str, str]) -> bool:
        return all(request_tags.get(name) == value for name, value in self.tags.items())

    def add(self, usd: float | None, input_tokens: int, output_tokens: int) -> None:
        if not usd:
            return
        step = int(self._clock() // self._step)
        with self._lock:
            number, total = self._steps[step % WINDOW_STEPS]
            self._steps[step % WINDOW_STEPS] = (step, usd + (total if number == step else 0.0))

    @property
    def spent(self) -> Spend:
        """USD of the window (tokens and requests are not kept)."""
        step = int(self._clock() // self._step)
        with self._lock:
            return Spend(usd=sum(total for number, total in self._steps if step - number < WINDOW_STEPS))


def period_seconds(period: str) -> float:
    """A Prometheus duration (`1h`, `1d`, `1h30m`) in seconds."""
    return sum(int(count) * _UNIT_SECONDS[unit] for count, unit in _DURATION_PART.findall(period))


def load_tag_budgets(path: str | None = None) -> tuple[TagBudget, ...]:
    """The budgets of the file `path` or `OTEL_AI_COST_BUDGETS_FILE`; none when neither is set.

    An unreadable or invalid file is logged (naming the entry and field) and enforces nothing.
    """
    path = path or os.environ.get(ENV_BUDGETS_FILE)
    if not path:
        return ()
    from otel_ai_cost.alerting.budgets import BudgetsError, load_budgets

    try:
        document = load_budgets(path)
        try:
            document.require_distinct_names()
        except BudgetsError as exc:
            _log.warning(
                "otel-ai-cost: %s: %s; both are enforced, but share that name in ai.cost.budget.exceeded",
                ENV_BUDGETS_FILE,
                exc,
            )
        return tuple(
            TagBudget(
                tags=entry.tags,
                usd=entry.usd,
                period=period_seconds(entry.period),
                on_exceed=entry.on_exceed,
                name=entry.label,
            )
            for entry in document.budgets
        )
    except (BudgetsError, ValueError) as exc:
        _log.error("otel-ai-cost: %s: %s; no budgets from it are enforced", ENV_BUDGETS_FILE, exc)
        return ()


def tag_budgets_for(recorder: Recorder, request_tags: Mapping[str, str] | None) -> tuple[TagBudget, ...]:
    """The recorder's `TagBudget`s that a request with these tags (None: those in force) counts against."""
    resolved = recorder.tag_policy.resolve(request_tags).tags
    return tuple(entry for entry in recorder.tag_budgets if entry.matches(resolved))


def check_before_send(recorder: Recorder, ctx: Context | None = None) -> None:
    """Check the budgets in force before a transport sends an AI request.

    Raises `BudgetExceeded` for the innermost spent budget with `on_exceed="raise"`: the transport
    must let it propagate and not send. Spent `warn` budgets log once. Every spent budget counts the
    request in `ai.cost.budget.exceeded`. Nothing else ever raises from here.
    """
    scopes: tuple[SpendScope, ...] = active_scopes(ctx)
    if recorder.tag_budgets:
        scopes += tag_budgets_for(recorder, None)
    if not scopes:
        return
    to_raise: BudgetExceeded | None = None
    for scope in reversed(scopes):  # innermost first
        if not isinstance(scope, budget):
            continue
        try:
            over = scope.exceeded()
            if over is None:
                continue
            attributes = {
                **recorder.tag_policy.resolve().metric_attributes,
                names.BUDGET_NAME: scope.name,
                names.BUDGET_ACTION: scope.on_exceed,
            }
            recorder.budget_exceeded.add(1, attributes)
            if scope.on_exceed == "warn":
                scope._warn_once(over)
            elif to_raise is None:
                to_raise = over
        except Exception as exc:
            recorder.internal_error("budget", exc)
    if to_raise is not None:
        raise to_raise
