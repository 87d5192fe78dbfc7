"""Spend scopes: blocks of code (budgets, workflows) that add up the AI requests finished inside them.

A scope is entered by putting it in the OpenTelemetry context (a `contextvars` variable), so it
follows `asyncio` tasks and code run with `contextvars.copy_context().run`, like `tags()`. The
recorder takes the scopes in force when a request STARTS and adds the request to each of them when
it finishes (a stream when it ends), so a request belongs to the code that sent it.

This module only counts; `budgets` and `workflows` decide what the counts mean.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry.context.context import Context

if TYPE_CHECKING:
    from otel_ai_cost.telemetry.recorder import Recorder

__all__ = ["Spend", "SpendScope", "active_recorder", "active_scopes", "add_request"]

_SCOPES_KEY: Final = otel_context.create_key("otel_ai_cost.spend_scopes")
_NONE: Final[tuple[SpendScope, ...]] = ()
# The context tokens of the scopes entered here, per thread and task: one budget object may be
# entered by several threads at once (`with shared_budget:` in each worker).
_attached: ContextVar[tuple[tuple[SpendScope, Token[Context]], ...]] = ContextVar("otel_ai_cost.entered", default=())

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound="SpendScope")


@dataclass(frozen=True, slots=True)
class Spend:
    """What the requests finished in a scope added up to."""

    usd: float = 0.0
    """USD of the priced requests; an unpriced request adds nothing here (see `unpriced_requests`)."""
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    """Every request sent and finished, failed ones included."""
    unpriced_requests: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class SpendScope:
    """Adds up requests under a lock (they may finish on any thread) and enters the context.

    Subclasses hook `_entered` and `_exiting`; `_fresh` gives the scope a decorated function's
    call runs in (each call its own).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spend = Spend()

    @property
    def spent(self) -> Spend:
        return self._spend

    def add(self, usd: float | None, input_tokens: int, output_tokens: int) -> None:
        """One finished request; `usd` None when it could not be priced."""
        with self._lock:
            old = self._spend
            self._spend = Spend(
                usd=old.usd + (usd or 0.0),
                input_tokens=old.input_tokens + input_tokens,
                output_tokens=old.output_tokens + output_tokens,
                requests=old.requests + 1,
                unpriced_requests=old.unpriced_requests + (usd is None),
            )

    # -- entering and leaving

    def _context(self, ctx: Context) -> Context:
        """The context the block runs in: this scope added to those in force (subclasses add more).
        Entered again inside itself (a helper entering the budget its caller entered), it is in force
        already: added twice, it would count each request twice."""
        scopes = active_scopes(ctx)
        if any(scope is self for scope in scopes):
            return ctx
        return otel_context.set_value(_SCOPES_KEY, (*scopes, self), ctx)

    def _entered(self) -> None:
        """Called before the context is attached."""

    def _exiting(self, exc: BaseException | None) -> None:
        """Called after the context is detached."""

    def _fresh(self: S) -> S:
        raise NotImplementedError

    def __enter__(self: S) -> S:
        self._entered()
        token = otel_context.attach(self._context(otel_context.get_current()))
        _attached.set((*_attached.get(), (self, token)))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        entered = _attached.get()
        for index in range(len(entered) - 1, -1, -1):
            if entered[index][0] is self:
                otel_context.detach(entered[index][1])
                _attached.set(entered[:index] + entered[index + 1 :])
                break
        self._exiting(exc)

    async def __aenter__(self: S) -> S:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Decorate a function or coroutine function: each call runs in a fresh copy of this scope."""
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(f"{type(self).__name__}() decorates functions and coroutine functions, not generators")
        if inspect.iscoroutinefunction(func):

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return cast(F, functools.wraps(func)(run_async))

        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast(F, functools.wraps(func)(run))


def active_scopes(ctx: Context | None = None) -> tuple[SpendScope, ...]:
    """The scopes in force here, outermost first. Cheap: one context lookup."""
    found = otel_context.get_value(_SCOPES_KEY, ctx)
    return cast("tuple[SpendScope, ...]", found) if isinstance(found, tuple) else _NONE


def add_request(scopes: tuple[SpendScope, ...], usd: float | None, input_tokens: int, output_tokens: int) -> None:
    """Add one finished request to every scope it was sent in (nested scopes each count it)."""
    for scope in scopes:
        scope.add(usd, input_tokens, output_tokens)


def active_recorder() -> Recorder | None:
    """The recorder of the instrumentation in force, or None when nothing is instrumented."""
    instrumentor = sys.modules.get("otel_ai_cost.instrumentor")  # not imported: not instrumented
    if instrumentor is None:
        return None
    recorder = instrumentor.AICostInstrumentor._active.get("recorder")
    return cast("Recorder | None", recorder)
