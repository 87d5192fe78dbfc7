"""Attribution tags: `tags()`, context propagation, W3C baggage, `TagPolicy` precedence and guards.

Everything runs against the real OpenTelemetry API and SDK; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect
import logging
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_ai_cost.config import Settings
from otel_ai_cost.tags import (
    ResolvedTags,
    TagPolicy,
    current_tags,
    parse_dimension_list,
    parse_tag_list,
    sanitize_name,
    sanitize_value,
    tags,
)

# `otel_ai_cost.tags` is the function once the package is imported; the module is in sys.modules.
tags_module = importlib.import_module("otel_ai_cost.tags")
GUARD_LOGGER = "otel_ai_cost.tags"


@contextmanager
def attached(ctx: Context) -> Iterator[None]:
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)


def incoming(header: str) -> Context:
    """The context a server builds from an incoming request's `baggage` header."""
    return W3CBaggagePropagator().extract({"baggage": header})


def policy(**kwargs: Any) -> TagPolicy:
    kwargs.setdefault("required", ())
    return TagPolicy(**kwargs)


# --- tags(): context manager, nesting, exceptions -------------------------------------------------


def test_context_manager_sets_tags_only_inside_the_block() -> None:
    assert current_tags() == {}
    with tags(team="search", feature="autocomplete") as inside:
        assert inside == {"team": "search", "feature": "autocomplete"}
        assert current_tags() == {"team": "search", "feature": "autocomplete"}
    assert current_tags() == {}


def test_nesting_inner_wins_outer_still_applies() -> None:
    with tags(team="search", feature="outer"):
        with tags(feature="inner", cost_center="cc-1"):
            assert current_tags() == {"team": "search", "feature": "inner", "cost_center": "cc-1"}
        assert current_tags() == {"team": "search", "feature": "outer"}


def test_empty_value_leaves_the_outer_value_in_force() -> None:
    with tags(team="search"), tags(team="  ", feature=""):
        assert current_tags() == {"team": "search"}


def test_async_with() -> None:
    async def main() -> dict[str, str]:
        async with tags(team="a"):
            await asyncio.sleep(0)
            return current_tags()

    assert asyncio.run(main()) == {"team": "a"}
    assert current_tags() == {}


def test_exception_propagates_unchanged_and_context_is_restored() -> None:
    error = KeyError("boom")
    before = otel_context.get_current()
    with pytest.raises(KeyError) as raised:
        with tags(team="a"):
            raise error
    assert raised.value is error
    assert otel_context.get_current() is before
    assert current_tags() == {}
    assert baggage.get_all() == {}


def test_exception_through_decorators_propagates_and_context_is_restored() -> None:
    error = ValueError("sync")

    @tags(team="a")
    def fail() -> None:
        raise error

    @tags(team="a")
    async def afail() -> None:
        await asyncio.sleep(0)
        raise error

    with pytest.raises(ValueError) as raised:
        fail()
    assert raised.value is error
    assert current_tags() == {}

    async def main() -> dict[str, str]:
        with pytest.raises(ValueError) as araised:
            await afail()
        assert araised.value is error
        return current_tags()

    assert asyncio.run(main()) == {}


# --- tags() as a decorator -------------------------------------------------------------------------


def test_decorator_on_sync_function() -> None:
    @tags(feature="summaries")
    def work(x: int) -> tuple[int, dict[str, str]]:
        """Doc."""
        return x * 2, current_tags()

    with tags(team="docs"):
        assert work(21) == (42, {"team": "docs", "feature": "summaries"})
    assert work(1) == (2, {"feature": "summaries"})
    assert current_tags() == {}
    assert work.__name__ == "work" and work.__doc__ == "Doc."


def test_decorator_on_async_function() -> None:
    @tags(feature="summaries")
    async def work() -> dict[str, str]:
        await asyncio.sleep(0)
        return current_tags()

    assert inspect.iscoroutinefunction(work)

    async def main() -> tuple[dict[str, str], dict[str, str]]:
        with tags(team="docs"):
            seen = await work()
        return seen, current_tags()

    assert asyncio.run(main()) == ({"team": "docs", "feature": "summaries"}, {})


def test_decorator_on_async_generator_applies_to_its_body_not_to_the_consumer() -> None:
    @tags(feature="stream")
    async def chunks() -> AsyncIterator[dict[str, str]]:
        for _ in range(3):
            await asyncio.sleep(0)
            yield current_tags()

    async def main() -> list[tuple[dict[str, str], dict[str, str]]]:
        with tags(team="t"):
            return [(inner, current_tags()) async for inner in chunks()]

    assert asyncio.run(main()) == [({"team": "t", "feature": "stream"}, {"team": "t"})] * 3


def test_decorated_async_generator_early_close_and_athrow() -> None:
    closed_with: list[dict[str, str]] = []

    @tags(feature="stream")
    async def chunks() -> AsyncGenerator[int, None]:
        try:
            n = 0
            while True:
                try:
                    yield n
                except LookupError:
                    n = 100
                n += 1
        finally:
            closed_with.append(current_tags())

    async def main() -> list[int]:
        agen = chunks()
        got = [await agen.__anext__(), await agen.athrow(LookupError()), await agen.__anext__()]
        await agen.aclose()
        return got

    assert asyncio.run(main()) == [0, 101, 102]
    assert closed_with == [{"feature": "stream"}]


def test_decorator_on_generator_send_and_return_value() -> None:
    @tags(feature="gen")
    def echo() -> Generator[Any, Any, str]:
        received = yield current_tags()
        yield received, current_tags()
        return "done"

    gen = echo()
    assert next(gen) == {"feature": "gen"}
    assert current_tags() == {}
    assert gen.send("hello") == ("hello", {"feature": "gen"})
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"


# --- propagation: asyncio tasks, threads ----------------------------------------------------------


def test_asyncio_tasks_each_see_their_own_tags() -> None:
    async def worker(team: str) -> list[str]:
        seen = []
        with tags(team=team):
            for _ in range(5):
                await asyncio.sleep(0)  # interleave with the other tasks
                seen.append(current_tags()["team"])
        return seen

    async def main() -> list[list[str]]:
        with tags(feature="batch"):
            return list(await asyncio.gather(*(asyncio.create_task(worker(t)) for t in ("a", "b", "c"))))

    assert asyncio.run(main()) == [["a"] * 5, ["b"] * 5, ["c"] * 5]


def test_asyncio_task_inherits_tags_of_its_creator() -> None:
    async def child() -> dict[str, str]:
        return current_tags()

    async def main() -> dict[str, str]:
        with tags(team="parent"):
            task = asyncio.create_task(child())
        return await task

    assert asyncio.run(main()) == {"team": "parent"}


def test_thread_with_copied_context_sees_tags() -> None:
    seen: dict[str, dict[str, str]] = {}

    def record(name: str) -> None:
        seen[name] = current_tags()

    with tags(team="search"):
        ctx = contextvars.copy_context()
        copied = threading.Thread(target=ctx.run, args=(record, "copied"))
        plain = threading.Thread(target=record, args=("plain",))
        for thread in (copied, plain):
            thread.start()
            thread.join()

    assert seen == {"copied": {"team": "search"}, "plain": {}}  # plain threads start with an empty context


def test_thread_pool_with_copied_context() -> None:
    def job(i: int) -> tuple[int, dict[str, str]]:
        with tags(feature=f"f{i}"):
            return i, current_tags()

    with ThreadPoolExecutor(max_workers=4) as pool, tags(team="search"):
        futures = [pool.submit(contextvars.copy_context().run, job, i) for i in range(8)]
        results = [f.result() for f in futures]

    assert results == [(i, {"team": "search", "feature": f"f{i}"}) for i in range(8)]
    assert current_tags() == {}


# --- W3C baggage -----------------------------------------------------------------------------------


def test_tags_are_written_to_baggage_and_removed_after() -> None:
    with tags(team="search", feature="qa"):
        with tags(feature="inner"):
            assert dict(baggage.get_all()) == {"ai.cost.team": "search", "ai.cost.feature": "inner"}
        assert dict(baggage.get_all()) == {"ai.cost.team": "search", "ai.cost.feature": "qa"}
    assert dict(baggage.get_all()) == {}


def test_tags_read_again_after_baggage_or_tags_change_and_results_are_not_shared() -> None:
    # current_tags() keeps one snapshot per (baggage, tags() frame): any change of either must show.
    with tags(team="search"):
        first = current_tags()
        first["team"] = "mutated by the caller"
        assert current_tags() == {"team": "search"}  # a new dict each time, the snapshot untouched
        with attached(baggage.set_baggage("ai.cost.feature", "from-baggage")):
            assert current_tags() == {"team": "search", "feature": "from-baggage"}
            with tags(team="inner"):
                assert current_tags() == {"team": "inner", "feature": "from-baggage"}
            assert current_tags() == {"team": "search", "feature": "from-baggage"}
        assert current_tags() == {"team": "search"}
        assert policy().resolve().tags == {"team": "search"}
    assert current_tags() == {}
    assert policy().resolve().tags == {}


def test_outgoing_request_carries_tags_and_downstream_reads_them() -> None:
    carrier: dict[str, str] = {}
    with tags(team="search team", cost_center="cc-42"):
        W3CBaggagePropagator().inject(carrier)  # what an instrumented HTTP client does
    assert "ai.cost.team=search+team" in carrier["baggage"]

    downstream = policy(required=("team", "feature"))
    with attached(W3CBaggagePropagator().extract(carrier)):
        assert current_tags() == {"team": "search team", "cost_center": "cc-42"}
        resolved = downstream.resolve()
        assert resolved.tags["team"] == "search team"
        assert resolved.tags["feature"] == "untagged"
        with tags(team="local"):
            assert downstream.resolve().tags["team"] == "local"


def test_baggage_is_read_and_unrelated_entries_ignored() -> None:
    with attached(incoming("ai.cost.team=x,ai.cost.Feature=Checkout,userId=42,ai.cost.untagged=false")):
        assert current_tags() == {"team": "x", "feature": "Checkout"}
        assert policy().resolve().span_attributes == {
            "ai.cost.team": "x",
            "ai.cost.feature": "Checkout",
            "ai.cost.untagged": False,
        }


def test_local_tags_win_over_baggage_attached_later() -> None:
    # e.g. a server framework extracting an incoming request's context inside a tags() block
    with tags(team="local"), attached(incoming("ai.cost.team=remote,ai.cost.feature=remote")):
        assert current_tags() == {"team": "local", "feature": "remote"}


def test_nesting_does_not_depend_on_baggage() -> None:
    p = policy(use_baggage=False)
    with tags(team="outer", feature="outer"), attached(baggage.clear()), tags(feature="inner"):
        assert dict(baggage.get_all()) == {"ai.cost.team": "outer", "ai.cost.feature": "inner"}
        assert p.resolve().tags == {"team": "outer", "feature": "inner"}


def test_use_baggage_false_ignores_incoming_baggage() -> None:
    with attached(incoming("ai.cost.team=x")):
        p = policy(required=("team",), use_baggage=False)
        assert p.resolve().tags == {"team": "untagged"}
        with tags(team="own"):
            assert p.resolve().tags == {"team": "own"}


# --- TagPolicy: precedence, required, defaults, resource ------------------------------------------


def test_precedence_defaults_resource_baggage_explicit() -> None:
    p = policy(
        default_tags={"environment": "from-defaults", "team": "from-defaults", "region": "eu"},
        resource_attributes={"deployment.environment.name": "from-resource"},
    )
    assert p.resolve().tags == {"environment": "from-resource", "team": "from-defaults", "region": "eu"}
    with attached(incoming("ai.cost.team=from-baggage,ai.cost.environment=from-baggage")):
        assert p.resolve().tags == {"environment": "from-baggage", "team": "from-baggage", "region": "eu"}
        with tags(team="from-tags"):
            assert p.resolve().tags == {"environment": "from-baggage", "team": "from-tags", "region": "eu"}


def test_explicit_snapshot_is_resolved_without_reading_the_context() -> None:
    p = policy(default_tags={"team": "d"})
    with tags(team="t", feature="f"):
        snapshot = current_tags()
    assert p.resolve(snapshot).tags == {"team": "t", "feature": "f"}
    assert p.resolve({}).tags == {"team": "d"}


def test_missing_required_dimension_is_untagged() -> None:
    p = TagPolicy()
    assert p.required == ("team", "feature")
    none = p.resolve()
    assert none.untagged is True
    assert none.span_attributes == {"ai.cost.team": "untagged", "ai.cost.feature": "untagged", "ai.cost.untagged": True}
    with tags(team="search"):
        half = p.resolve()
    assert half.untagged is True and half.tags == {"team": "search", "feature": "untagged"}
    with tags(team="search", feature="qa"):
        full = p.resolve()
    assert full.untagged is False
    assert full.metric_attributes == {"ai.cost.team": "search", "ai.cost.feature": "qa", "ai.cost.untagged": False}


def test_no_required_dimensions_is_never_untagged() -> None:
    assert policy().resolve().span_attributes == {"ai.cost.untagged": False}


def test_parse_tag_list() -> None:
    assert parse_tag_list("team=search,cost_center=cc-42") == {"team": "search", "cost_center": "cc-42"}
    assert parse_tag_list(" Team = Search Ops , ,cost-center=a=b,") == {"team": "Search Ops", "cost_center": "a=b"}
    assert parse_tag_list("") == {}


@pytest.mark.parametrize(
    ("text", "bad"),
    [("team=search,oops", "'oops'"), ("team=", "'team='"), ("=x", "'=x'"), ("a=1,untagged=yes", "'untagged=yes'")],
)
def test_parse_tag_list_errors_name_the_bad_item(text: str, bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        parse_tag_list(text)


def test_parse_dimension_list() -> None:
    assert parse_dimension_list("team, Feature,,team,cost-center") == ("team", "feature", "cost_center")
    assert parse_dimension_list("") == ()
    with pytest.raises(ValueError, match="priced"):
        parse_dimension_list("team,priced")


def test_policy_from_settings() -> None:
    settings = Settings(default_tags="team=platform,cost_center=cc-7", required_tags=("team",), max_tag_values=5)
    p = TagPolicy.from_settings(settings, resource_attributes={"deployment.environment": "staging"})
    assert p.default_tags == {"team": "platform", "cost_center": "cc-7"}
    assert p.required == ("team",)
    assert p.max_values_per_dimension == 5
    assert p.resolve().tags == {"team": "platform", "cost_center": "cc-7", "environment": "staging"}
    with pytest.raises(ValueError, match="OTEL_AI_COST_DEFAULT_TAGS.*'nope'"):
        TagPolicy.from_settings(Settings(default_tags="team=a,nope"))


@pytest.mark.parametrize(
    ("resource", "environment"),
    [
        ({"deployment.environment.name": "prod"}, "prod"),
        ({"deployment.environment": "staging"}, "staging"),
        ({"deployment.environment.name": "prod", "deployment.environment": "old"}, "prod"),
        ({"deployment.environment.name": "", "deployment.environment": "old"}, "old"),
        ({"deployment.environment.name": 3}, "3"),
        ({"service.name": "api"}, None),
    ],
)
def test_resource_environment(resource: Mapping[str, Any], environment: str | None) -> None:
    assert policy(resource_attributes=resource).resolve().tags.get("environment") == environment


def test_resolving_the_same_tags_again_is_cached() -> None:
    p = TagPolicy()
    with tags(team="a", feature="b"):
        first = p.resolve()
    with tags(team="a", feature="b"):
        assert p.resolve() is first
    with tags(feature="b"), tags(team="a"):  # same tags, other order: equal
        assert p.resolve() == first


# --- cardinality guard ----------------------------------------------------------------------------


def test_cardinality_guard_caps_metric_values_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    p = TagPolicy(required=("team",))
    with caplog.at_level(logging.WARNING, logger=GUARD_LOGGER):
        for i in range(100):
            assert p.resolve({"team": f"t{i}"}).metric_attributes["ai.cost.team"] == f"t{i}"
        assert not caplog.records
        over = p.resolve({"team": "t100"})
        assert over.metric_attributes["ai.cost.team"] == "other"
        assert over.span_attributes["ai.cost.team"] == "t100"  # spans keep the real value
        assert p.resolve({"team": "t101"}).metric_attributes["ai.cost.team"] == "other"
        assert p.resolve({"team": "t5"}).metric_attributes["ai.cost.team"] == "t5"  # already seen
        assert p.resolve({}).metric_attributes["ai.cost.team"] == "untagged"  # always passes
        # another dimension has its own budget and its own warning
        assert p.resolve({"team": "t0", "feature": "f"}).metric_attributes["ai.cost.feature"] == "f"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'team'" in warnings[0].getMessage() and "100" in warnings[0].getMessage()


def test_cardinality_guard_limit_is_configurable() -> None:
    p = TagPolicy(required=(), max_values_per_dimension=2)
    assert [p.resolve({"team": v}).metric_attributes["ai.cost.team"] for v in "abcab"] == ["a", "b", "other", "a", "b"]
    with pytest.raises(ValueError):
        TagPolicy(max_values_per_dimension=0)


def test_too_many_dimensions_are_left_out_of_metrics(caplog: pytest.LogCaptureFixture) -> None:
    p = TagPolicy(required=("team",), max_dimensions=3)
    header = ",".join(f"ai.cost.d{i}=v" for i in range(50))
    with caplog.at_level(logging.WARNING, logger=GUARD_LOGGER), attached(incoming(header)):
        resolved = p.resolve()
    dims_on_metrics = [k for k in resolved.metric_attributes if k not in ("ai.cost.untagged",)]
    assert len(dims_on_metrics) == 3 and "ai.cost.team" in dims_on_metrics
    assert len([k for k in resolved.span_attributes if k.startswith("ai.cost.d")]) == 50
    assert len(caplog.records) == 1


# --- sanitization and hostile input ---------------------------------------------------------------


def test_sanitize_name() -> None:
    assert sanitize_name("Cost-Center") == "cost_center"
    assert sanitize_name(" team ") == "team"
    assert sanitize_name("équipe.x") == "_quipe_x"
    assert sanitize_name("x" * 1000) == "x" * 64
    assert sanitize_name("   ") is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("search", "search"),
        ("  a \t b\n\r c  ", "a b c"),
        ("nul\x00 and\x1b[31m esc\x7f", "nul and[31m esc"),
        ("bidi\u202eevil\u200b", "bidievil"),
        ("lone \ud800 surrogate", "lone surrogate"),
        ("\x00\x01\n", None),
        ("", None),
        (None, None),
        (42, "42"),
        (3.5, "3.5"),
        (["a"], "['a']"),
    ],
)
def test_sanitize_value(raw: object, clean: str | None) -> None:
    assert sanitize_value(raw) == clean


def test_sanitize_value_truncates_huge_strings() -> None:
    assert sanitize_value("x" * 10_000_000) == "x" * 128
    assert sanitize_value("a" + " " * 10_000 + "b") == "a"  # raw input is cut (at 4096) before cleaning


class Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_hostile_values_never_raise() -> None:
    p = TagPolicy()
    hostile: dict[str, Any] = {
        "team": "x" * 1_000_000 + "\x00",
        "feature": Hostile(),
        "Cost Center": 12345,
        "": "empty name",
        "untagged": "reserved",
        "bad\nname": "\ud800",
    }
    with tags(**hostile) as inside:
        assert inside == {"team": "x" * 128, "cost_center": "12345"}
        resolved = p.resolve()
    assert resolved.tags == {"team": "x" * 128, "feature": "untagged", "cost_center": "12345"}
    assert resolved.untagged is True
    for key, value in resolved.span_attributes.items():
        key.encode("utf-8"), str(value).encode("utf-8")  # what an OTLP export needs
    # unhashable and non-str values in an explicit mapping
    unhashable: dict[str, Any] = {"team": ["a"], "feature": Hostile()}
    assert p.resolve(unhashable).tags == {"team": "['a']", "feature": "untagged"}


def test_hostile_incoming_baggage_is_sanitized() -> None:
    with attached(incoming("ai.cost.team=a%0Ab%00c,ai.cost.FEATURE%20X=" + "y" * 300)):
        assert current_tags() == {"team": "a bc", "feature_x": "y" * 128}


def test_thousands_of_distinct_values_stay_bounded() -> None:
    p = TagPolicy(required=("team",))
    metric_values = set()
    for i in range(10_000):
        with tags(team=f"team-{i}", feature="f"):
            resolved = p.resolve()
        metric_values.add(resolved.metric_attributes["ai.cost.team"])
    assert len(metric_values) == 101  # 100 real values + other
    assert len(p._cache) <= tags_module._CACHE_SIZE


def test_reserved_dimension_names_are_dropped() -> None:
    with tags(priced="yes", estimated="no", team="a"):
        assert current_tags() == {"team": "a"}


def test_dimensions_that_would_collide_with_our_prometheus_labels_are_reserved() -> None:
    from otel_ai_cost.telemetry import names

    ours = [
        names.COST_TOKEN_TYPE,
        names.WORKFLOW_NAME,
        names.WORKFLOW_OUTCOME,
        names.BUDGET_NAME,
        names.BUDGET_ACTION,
        "ai.cost.error.where",
        "ai.cost.source",  # the collector overlay's label on span-derived series
    ]
    for attribute in ours:
        dimension = names.prometheus_label(attribute).removeprefix("ai_cost_")
        with tags(**{dimension: "x"}, team="a"):
            assert current_tags() == {"team": "a"}, attribute


# --- the attributes work with the real SDK ---------------------------------------------------------


def test_attributes_are_accepted_by_the_sdk() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    counter = meter_provider.get_meter("test").create_counter("gen_ai.client.cost", unit="USD")

    p = TagPolicy(max_values_per_dimension=1)
    for team in ("search", "ads"):
        with tags(team=team, feature="chat"):
            resolved: ResolvedTags = p.resolve()
        with tracer_provider.get_tracer("test").start_as_current_span(
            "chat gpt-4o", attributes=resolved.span_attributes
        ):
            pass
        counter.add(0.01, {"gen_ai.request.model": "gpt-4o", **resolved.metric_attributes})

    spans = exporter.get_finished_spans()
    assert [s.attributes["ai.cost.team"] for s in spans if s.attributes] == ["search", "ads"]
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics for p in m.data.data_points
    ]
    assert sorted(str(dp.attributes["ai.cost.team"]) for dp in points if dp.attributes) == ["other", "search"]
    tracer_provider.shutdown()
    meter_provider.shutdown()
