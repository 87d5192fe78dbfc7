"""Attribution tags: who pays for an AI request.

Code says who pays with `tags()`, as a context manager or a decorator::

    with tags(team="search", feature="autocomplete"):
        client.chat.completions.create(...)

    @tags(feature="summaries")
    async def summarize(text: str) -> str: ...

Tags nest (an inner value wins, outer values still apply to the other dimensions) and live in the
OpenTelemetry context, which is a `contextvars` variable: they follow `asyncio` tasks and code run
with `contextvars.copy_context().run` (plain threads and `ThreadPoolExecutor.submit` do not copy
the context; `asyncio.to_thread` does). They are also written to W3C baggage as `ai.cost.<dimension>`,
so the baggage propagator carries them to downstream services, which read them back: a request that
arrives with `ai.cost.team=search` baggage is billed to team search unless local code says otherwise.

`TagPolicy` turns the tags in force into span and metric attributes (`ai.cost.<dimension>`,
`ai.cost.untagged`), with precedence defaults < resource < baggage < `tags()`, required dimensions
(a missing one is recorded as `untagged`) and a cardinality guard on metric attributes.

Every name and value is sanitized, and nothing here raises into the application at request time.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from contextvars import Token
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context.context import Context

from otel_ai_cost.telemetry.context_keys import BAGGAGE_KEY

if TYPE_CHECKING:
    from otel_ai_cost.config import Settings

__all__ = [
    "ATTRIBUTE_PREFIX",
    "DEFAULT_REQUIRED",
    "OTHER",
    "RESERVED_DIMENSIONS",
    "UNTAGGED",
    "UNTAGGED_ATTRIBUTE",
    "ResolvedTags",
    "TagPolicy",
    "current_tags",
    "parse_dimension_list",
    "parse_tag_list",
    "sanitize_name",
    "sanitize_value",
    "tags",
]

_log = logging.getLogger(__name__)

ATTRIBUTE_PREFIX: Final = "ai.cost."
"""Span attributes, metric attributes and baggage keys of tags are `ai.cost.<dimension>`."""
UNTAGGED_ATTRIBUTE: Final = "ai.cost.untagged"
UNTAGGED: Final = "untagged"
"""The value of a required dimension nobody set."""
OTHER: Final = "other"
"""The metric value of a dimension's values beyond the cardinality limit."""
DEFAULT_REQUIRED: Final = ("team", "feature")
RESERVED_DIMENSIONS: Final = frozenset(
    {"untagged", "priced", "unpriced_reason", "estimated", "price_source"}
    | {"list_amount", "savings_amount", "commitment"}
    # Metric labels of ours that a dimension would collide with once dots become underscores in Prometheus.
    | {"token_type", "error_where", "workflow_name", "workflow_outcome", "budget_name", "budget_action", "source"}
)
"""Names of other `ai.cost.*` attributes in the contract; a tag with one of them is dropped."""

MAX_NAME_LENGTH: Final = 64
MAX_VALUE_LENGTH: Final = 128
_RAW_LIMIT: Final = 4096  # longer raw input is cut first, so hostile input costs bounded work
_CACHE_SIZE: Final = 4096
ENV_DEFAULT_TAGS: Final = "OTEL_AI_COST_DEFAULT_TAGS"

_TAGS_KEY: Final = otel_context.create_key("otel_ai_cost.tags")
_NAME_BAD = re.compile(r"[^a-z0-9_]")
# Control characters that are not whitespace (whitespace is collapsed below), invisible format and
# bidi characters, and lone surrogates (which would make an OTLP export fail to encode).
_VALUE_BAD = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)
_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})
_warned_reserved: set[str] = set()

F = TypeVar("F", bound=Callable[..., Any])
AttributeMap = Mapping[str, str | bool]


def sanitize_name(raw: str) -> str | None:
    """A dimension name as `[a-z0-9_]{1,64}` (other characters become `_`); None if empty."""
    name = _NAME_BAD.sub("_", raw[:_RAW_LIMIT].strip().lower())[:MAX_NAME_LENGTH]
    return name or None


def sanitize_value(raw: object) -> str | None:
    """A tag value as text without control characters, whitespace collapsed, at most 128 characters.

    Any object is turned into text with `str()`; None, an empty result or an object whose `str()`
    fails give None (the dimension counts as missing). Never raises.
    """
    if raw is None:
        return None
    try:
        text = raw if isinstance(raw, str) else str(raw)
        text = " ".join(_VALUE_BAD.sub("", text[:_RAW_LIMIT]).split())[:MAX_VALUE_LENGTH].rstrip()
    except Exception:  # a hostile __str__
        return None
    return text or None


def _clean(dims: Mapping[str, object]) -> dict[str, str]:
    """Sanitized dimension -> value; empty values and reserved names are left out. Never raises."""
    clean: dict[str, str] = {}
    for raw_name, raw_value in dims.items():
        name = sanitize_name(raw_name) if isinstance(raw_name, str) else None
        value = sanitize_value(raw_value)
        if name is None or value is None:
            continue
        if name in RESERVED_DIMENSIONS:
            if name not in _warned_reserved:
                _warned_reserved.add(name)
                _log.warning("otel-ai-cost: tag dimension %r is reserved (ai.cost.%s); ignored", name, name)
            continue
        clean[name] = value
    return clean


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _clean_baggage_entry(key: str, value: str) -> tuple[str, str] | None:
    pair = _clean({key[len(ATTRIBUTE_PREFIX) :]: value})
    return next(iter(pair.items()), None)


def _local_tags(ctx: Context | None = None) -> Mapping[str, str]:
    frame = otel_context.get_value(_TAGS_KEY, ctx)
    return cast("Mapping[str, str]", frame) if isinstance(frame, dict) else _EMPTY


def _baggage_tags(ctx: Context | None = None) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in baggage.get_all(ctx).items():
        if not (isinstance(key, str) and key.startswith(ATTRIBUTE_PREFIX)):
            continue
        text = value if isinstance(value, str) else sanitize_value(value)
        pair = None if text is None else _clean_baggage_entry(key, text)
        if pair is not None:
            found[pair[0]] = pair[1]
    return found


class _TagSnapshot(dict[str, str]):
    """`current_tags()` as read for one baggage and one `tags()` frame; shared, so never mutated."""

    __slots__ = ()


# The last snapshot with the baggage and the `tags()` frame it was read from. Both are immutable
# in the context (setting baggage or tags makes new ones), and holding them keeps their ids from
# being reused, so the same two objects always give the same tags: calls made in one `tags()` block
# read and clean the baggage once. One tuple, replaced whole: safe across threads.
_last_snapshot: tuple[object, object, _TagSnapshot] = (object(), object(), _TagSnapshot())


def _tag_snapshot(ctx: Context | None = None) -> Mapping[str, str]:
    """`current_tags()` (of `ctx`, else the current context) without the copy: a shared mapping
    that the caller must not mutate."""
    global _last_snapshot
    try:
        if ctx is None:
            ctx = otel_context.get_current()
        bag = ctx.get(BAGGAGE_KEY)  # read directly, to tell one baggage object from another
        frame = ctx.get(_TAGS_KEY)
        last_bag, last_frame, snapshot = _last_snapshot
        if bag is last_bag and frame is last_frame:
            return snapshot
        snapshot = _TagSnapshot(_baggage_tags(ctx))
        snapshot.update(_local_tags(ctx))
        _last_snapshot = (bag, frame, snapshot)
        return snapshot
    except Exception:  # never into the caller
        _log.debug("otel-ai-cost: reading tags failed", exc_info=True)
        return _EMPTY


def current_tags() -> dict[str, str]:
    """The tags in force here: baggage `ai.cost.*` entries < outer `tags()` < inner `tags()`.

    Defaults and resource attributes are not included (they belong to a `TagPolicy`). The result is
    a new dict, sanitized; a caller may keep it (e.g. to resolve a stream's tags when it ends).
    """
    return dict(_tag_snapshot())


class tags:  # lower-case, like the context managers of contextlib
    """Attribute the AI requests made in a block or a function to these dimensions.

    A context manager (`with` and `async with`) and a decorator of functions, coroutine functions,
    generator and async generator functions (a generator's tags apply while its body runs, not
    while its consumer does). Values go through `str()` and `sanitize_value`; an empty one means
    "not set here", so an outer value still applies. Entering returns the tags then in force.

    As a decorator the object is safe for concurrent calls; as a `with` statement use one object
    for one block at a time (`with tags(...)` as written creates a new one each time).
    """

    __slots__ = ("_dims", "_tokens")

    def __init__(self, **dims: str) -> None:
        self._dims = _clean(dims)
        self._tokens: list[Token[Context]] = []

    @property
    def dimensions(self) -> Mapping[str, str]:
        """The sanitized tags this object sets."""
        return MappingProxyType(self._dims)

    def __repr__(self) -> str:
        return f"tags({', '.join(f'{k}={v!r}' for k, v in self._dims.items())})"

    def _attach(self) -> Token[Context]:
        ctx = otel_context.get_current()
        merged = {**_local_tags(ctx), **self._dims}
        ctx = otel_context.set_value(_TAGS_KEY, merged, ctx)
        for name, value in merged.items():
            ctx = baggage.set_baggage(ATTRIBUTE_PREFIX + name, value, ctx)
        return otel_context.attach(ctx)

    def __enter__(self) -> dict[str, str]:
        self._tokens.append(self._attach())
        return current_tags()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        otel_context.detach(self._tokens.pop())

    async def __aenter__(self) -> dict[str, str]:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        if inspect.isasyncgenfunction(func):
            wrapper: Callable[..., Any] = self._wrap_async_generator(func)
        elif inspect.iscoroutinefunction(func):
            wrapper = self._wrap_coroutine(func)
        elif inspect.isgeneratorfunction(func):
            wrapper = self._wrap_generator(func)
        else:
            wrapper = self._wrap_function(func)
        return cast(F, functools.wraps(func)(wrapper))

    def _wrap_function(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            token = self._attach()
            try:
                return func(*args, **kwargs)
            finally:
                otel_context.detach(token)

        return run

    def _wrap_coroutine(self, func: Callable[..., Any]) -> Callable[..., Any]:
        async def run(*args: Any, **kwargs: Any) -> Any:
            token = self._attach()
            try:
                return await func(*args, **kwargs)
            finally:
                otel_context.detach(token)

        return run

    def _wrap_generator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Each step of the inner generator runs with the tags; the consumer between steps does not.
        def run(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            gen: Generator[Any, Any, Any] = func(*args, **kwargs)
            step: Callable[[Any], Any] = gen.send
            arg: Any = None
            try:
                while True:
                    token = self._attach()
                    try:
                        item = step(arg)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        otel_context.detach(token)
                    try:
                        arg, step = (yield item), gen.send
                    except GeneratorExit:
                        raise
                    except BaseException as exc:
                        arg, step = exc, gen.throw
            finally:
                token = self._attach()
                try:
                    gen.close()
                finally:
                    otel_context.detach(token)

        return run

    def _wrap_async_generator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        async def run(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            agen: AsyncGenerator[Any, Any] = func(*args, **kwargs)
            step: Callable[[Any], Any] = agen.asend
            arg: Any = None
            try:
                while True:
                    token = self._attach()
                    try:
                        item = await step(arg)
                    except StopAsyncIteration:
                        return
                    finally:
                        otel_context.detach(token)
                    try:
                        arg, step = (yield item), agen.asend
                    except GeneratorExit:
                        raise
                    except BaseException as exc:
                        arg, step = exc, agen.athrow
            finally:
                token = self._attach()
                try:
                    await agen.aclose()
                finally:
                    otel_context.detach(token)

        return run


def parse_tag_list(text: str) -> dict[str, str]:
    """Parse `team=search,cost_center=cc-42` into sanitized dimension -> value.

    Empty items are skipped; a later item wins over an earlier one with the same dimension. An item
    without `=`, with an empty name or value, or with a reserved name raises ValueError naming it.
    """
    parsed: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        raw_name, sep, raw_value = item.partition("=")
        name = sanitize_name(raw_name)
        value = sanitize_value(raw_value)
        if not sep or name is None or value is None:
            raise ValueError(f"tag {item.strip()[:100]!r} is not dimension=value")
        if name in RESERVED_DIMENSIONS:
            raise ValueError(f"tag {item.strip()[:100]!r}: {name!r} is a reserved name")
        parsed[name] = value
    return parsed


def parse_dimension_list(text: str) -> tuple[str, ...]:
    """Parse `team,feature` into sanitized dimension names, without repeats; reserved ones raise ValueError."""
    names: list[str] = []
    for item in text.split(","):
        name = sanitize_name(item)
        if name is None:
            continue
        if name in RESERVED_DIMENSIONS:
            raise ValueError(f"dimension {item.strip()[:100]!r} is a reserved name")
        if name not in names:
            names.append(name)
    return tuple(names)


def _resource_tags(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Tags implied by the OpenTelemetry Resource: `deployment.environment[.name]` -> environment."""
    env = attributes.get("deployment.environment.name")
    if sanitize_value(env) is None:
        env = attributes.get("deployment.environment")
    return _clean({"environment": env})


@dataclass(frozen=True, slots=True)
class ResolvedTags:
    """The tags of one request, ready for telemetry. Shared between requests: do not mutate."""

    tags: Mapping[str, str]
    """dimension -> sanitized value, including `untagged` for each missing required dimension."""
    untagged: bool
    """A required dimension was missing (or explicitly `untagged`)."""
    span_attributes: AttributeMap
    """`ai.cost.<dimension>` -> value, and `ai.cost.untagged`."""
    metric_attributes: AttributeMap
    """As `span_attributes`, after the cardinality guard (values beyond the limit become `other`)."""


class _CardinalityGuard:
    """At most N distinct metric values per dimension and M dimensions, per process."""

    def __init__(self, max_values: int, max_dimensions: int, known: Iterable[str]) -> None:
        self._max_values = max_values
        self._max_dimensions = max_dimensions
        self._seen: dict[str, set[str]] = {name: set() for name in known}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def admit(self, name: str, value: str) -> str | None:
        """The metric value for `value` of dimension `name`: itself, `other`, or None (drop the dimension)."""
        if value == UNTAGGED or value == OTHER:
            return value
        seen = self._seen.get(name)
        if seen is not None and value in seen:
            return value
        with self._lock:
            if seen is None:
                if len(self._seen) >= self._max_dimensions:
                    self._warn_once(
                        "",
                        "otel-ai-cost: more than %d tag dimensions; %r and later ones are left out of metrics "
                        "(kept on spans)",
                        self._max_dimensions,
                        name,
                    )
                    return None
                seen = self._seen.setdefault(name, set())
            if value in seen or len(seen) < self._max_values:
                seen.add(value)
                return value
            self._warn_once(
                name,
                "otel-ai-cost: tag dimension %r has more than %d distinct values; further values are recorded "
                "as %r in metrics (kept on spans)",
                name,
                self._max_values,
                OTHER,
            )
            return OTHER

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            _log.warning(message, *args)


class TagPolicy:
    """Turns the tags in force into span and metric attributes; one per process (or per SDK setup).

    Precedence, lowest first: `default_tags` < tags from `resource_attributes` < baggage < `tags()`.
    A `required` dimension nobody set gets the value `untagged` and the request `ai.cost.untagged`.
    Metric attributes go through a cardinality guard: at most `max_values_per_dimension` distinct
    values per dimension (later ones become `other`, with one warning per dimension) and at most
    `max_dimensions` dimensions (later ones are left out of metrics). Spans keep the real values.
    With `use_baggage=False`, incoming baggage is ignored (e.g. for a service facing untrusted callers).
    """

    def __init__(
        self,
        *,
        default_tags: Mapping[str, str] | None = None,
        resource_attributes: Mapping[str, Any] | None = None,
        required: Iterable[str] = DEFAULT_REQUIRED,
        max_values_per_dimension: int = 100,
        max_dimensions: int = 32,
        use_baggage: bool = True,
    ) -> None:
        if max_values_per_dimension < 1 or max_dimensions < 1:
            raise ValueError("max_values_per_dimension and max_dimensions must be at least 1")
        self.default_tags: Mapping[str, str] = MappingProxyType(_clean(default_tags or {}))
        self.resource_attributes: Mapping[str, Any] = MappingProxyType(dict(resource_attributes or {}))
        self.required: tuple[str, ...] = parse_dimension_list(",".join(required))
        self.max_values_per_dimension = max_values_per_dimension
        self.max_dimensions = max_dimensions
        self.use_baggage = use_baggage
        self._base = {**self.default_tags, **_resource_tags(self.resource_attributes)}
        self._guard = _CardinalityGuard(max_values_per_dimension, max_dimensions, [*self.required, *self._base])
        self._cache: dict[tuple[tuple[str, object], ...], ResolvedTags] = {}
        self._fallback = self._build({})
        self._last: tuple[object, ResolvedTags] = (object(), self._fallback)
        self._failed = False  # an unexpected error is logged once

    @classmethod
    def from_settings(cls, settings: Settings, *, resource_attributes: Mapping[str, Any] | None = None) -> TagPolicy:
        """The policy of `OTEL_AI_COST_DEFAULT_TAGS`, `_REQUIRED_TAGS` and `_MAX_TAG_VALUES`.

        `resource_attributes` are those of the SDK's Resource (`resource.attributes`). A bad
        `OTEL_AI_COST_DEFAULT_TAGS` raises ValueError naming the variable and the item.
        """
        try:
            defaults = parse_tag_list(settings.default_tags)
        except ValueError as exc:
            raise ValueError(f"{ENV_DEFAULT_TAGS}: {exc}") from None
        return cls(
            default_tags=defaults,
            resource_attributes=resource_attributes,
            required=settings.required_tags,
            max_values_per_dimension=settings.max_tag_values,
        )

    def resolve(self, explicit: Mapping[str, str] | None = None) -> ResolvedTags:
        """The tags of a request. Never raises.

        `explicit` defaults to the tags in force here (`current_tags()`, or only the `tags()` ones
        with `use_baggage=False`); pass a snapshot taken earlier to resolve it later, e.g. when a
        stream ends. Results are cached per distinct set of tags.
        """
        try:
            if explicit is None:
                explicit = _tag_snapshot() if self.use_baggage else dict(_local_tags())
            last_explicit, last_resolved = self._last
            if explicit is last_explicit:  # the same shared snapshot as last time (one `tags()` block)
                return last_resolved
            key: tuple[tuple[str, object], ...] | None = tuple(explicit.items())
            try:
                hit = self._cache.get(key) if key is not None else None
            except TypeError:  # an unhashable value
                key, hit = None, None
            if hit is None:
                hit = self._build(explicit)
                if key is not None:
                    if len(self._cache) >= _CACHE_SIZE:
                        self._cache.clear()
                    self._cache[key] = hit
            if type(explicit) is _TagSnapshot:  # shared and never mutated: its identity stands for its items
                self._last = (explicit, hit)
            return hit
        except Exception:
            if not self._failed:
                self._failed = True
                _log.exception("otel-ai-cost: resolving tags failed; recording such requests as untagged")
            return self._fallback

    def _build(self, explicit: Mapping[str, object]) -> ResolvedTags:
        merged = {**self._base, **_clean(explicit)}
        for name in self.required:
            merged.setdefault(name, UNTAGGED)
        untagged = any(merged[name] == UNTAGGED for name in self.required)
        span: dict[str, str | bool] = {ATTRIBUTE_PREFIX + name: value for name, value in merged.items()}
        span[UNTAGGED_ATTRIBUTE] = untagged
        metric: dict[str, str | bool] = {}
        for name, value in merged.items():
            admitted = self._guard.admit(name, value)
            if admitted is not None:
                metric[ATTRIBUTE_PREFIX + name] = admitted
        metric[UNTAGGED_ATTRIBUTE] = untagged
        return ResolvedTags(
            tags=MappingProxyType(merged),
            untagged=untagged,
            span_attributes=MappingProxyType(span),
            metric_attributes=MappingProxyType(metric),
        )
