"""Dashboard queries against a real Prometheus loaded with synthetic counters, for the edge cases a live workload
does not reach: a quiet range, an idle provisioned deployment, a workflow with no success, day boundaries.

The series are written as OpenMetrics with timestamps, turned into TSDB blocks by `promtool tsdb
create-blocks-from openmetrics` and served by a Prometheus started on loopback for the test; the panel query is
taken from the dashboard JSON with Grafana's variables put in, and run at chosen times (instant queries) or over
the steps Grafana would ask for (range queries). tests/stack/ runs every query against the package's own metrics.
"""

from __future__ import annotations

import json
import math
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
BASE = 1_704_067_200  # 2024-01-01 00:00 UTC: a midnight, and a multiple of every step below
HOUR = 3600
DAY = 24 * HOUR
STEP = 60  # seconds between the synthetic samples, as a 1-minute scrape interval

FILTERS = ("team", "feature", "environment", "provider", "model")
# The metric attributes every request series carries (recorder.metric_attributes), as Prometheus labels.
REQUEST_LABELS = {
    "gen_ai_provider_name": "openai",
    "gen_ai_operation_name": "chat",
    "gen_ai_request_model": "gpt-4o",
    "gen_ai_response_model": "gpt-4o-2024-08-06",
    "ai_cost_team": "search",
    "ai_cost_feature": "answers",
    "ai_cost_environment": "production",
    "ai_cost_untagged": "false",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class Series:
    name: str
    labels: dict[str, str]
    samples: list[tuple[int, float]]  # (seconds after BASE, value)


def counter(name: str, segments: list[tuple[int, float]], start: int = 0, **labels: str) -> Series:
    """A cumulative counter that appears at `start` (value 0) and then grows by `per_second` for `seconds`,
    segment after segment: [(seconds, per_second), ...]; sampled every STEP seconds."""
    samples, t, value = [(start, 0.0)], start, 0.0
    for seconds, per_second in segments:
        for _ in range(seconds // STEP):
            t += STEP
            value += per_second * STEP
            samples.append((t, value))
    return Series(name, {**REQUEST_LABELS, **labels}, samples)


def openmetrics(series: list[Series]) -> str:
    lines = []
    for one in series:
        labels = ",".join(f"{key}={json.dumps(value)}" for key, value in sorted(one.labels.items()))
        lines += [f"{one.name}{{{labels}}} {value!r} {BASE + t}" for t, value in one.samples]
    return "\n".join(lines) + "\n# EOF\n"


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def _api(self, path: str, params: dict[str, Any]) -> Any:
        data = urllib.parse.urlencode(params, doseq=True).encode()
        try:
            with urllib.request.urlopen(f"{self.url}{path}", data=data, timeout=10) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:  # 400 and 422 carry the parse or execution error
            answer = json.load(error)
        assert answer["status"] == "success", (params, answer)
        return answer["data"]

    def instant(self, expr: str, at: int) -> dict[frozenset[tuple[str, str]], float]:
        """{labels: value} of an instant query at `at` seconds after BASE."""
        result = self._api("/api/v1/query", {"query": expr, "time": BASE + at})["result"]
        return {frozenset(sample["metric"].items()): float(sample["value"][1]) for sample in result}

    def scalar(self, expr: str, at: int) -> float | None:
        """The one value of a query without labels; None when it returns nothing ("No data" in Grafana)."""
        result = self.instant(expr, at)
        assert set(result) <= {frozenset()}, result
        return result.get(frozenset())

    def range(self, expr: str, start: int, end: int, step: int) -> dict[frozenset[tuple[str, str]], dict[int, float]]:
        """{labels: {seconds after BASE: value}} of a range query, as Grafana's panels ask for it."""
        params = {"query": expr, "start": BASE + start, "end": BASE + end, "step": step}
        result = self._api("/api/v1/query_range", params)["result"]
        return {
            frozenset(sample["metric"].items()): {int(t) - BASE: float(v) for t, v in sample["values"]}
            for sample in result
        }

    def label_values(self, label: str, match: str, start: int, end: int) -> set[str]:
        """What Grafana's label_values(match, label) offers over the dashboard range."""
        params = {"match[]": match, "start": BASE + start, "end": BASE + end}
        with urllib.request.urlopen(
            f"{self.url}/api/v1/label/{label}/values?{urllib.parse.urlencode(params)}", timeout=10
        ) as response:
            return set(json.load(response)["data"])


@pytest.fixture
def prometheus(
    prometheus_path: str, promtool_path: str, tmp_path: Path
) -> Iterator[Callable[[list[Series]], Prometheus]]:
    """Start a Prometheus holding exactly these series (one per test)."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(series: list[Series]) -> Prometheus:
        source, data = tmp_path / "series.om", tmp_path / "data"
        source.write_text(openmetrics(series), encoding="utf-8")
        subprocess.run(
            [promtool_path, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h", source, data],
            check=True,
            capture_output=True,
            timeout=120,
        )
        (tmp_path / "prometheus.yml").write_text("global: {}\n", encoding="utf-8")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = (tmp_path / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [
                prometheus_path,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start: {(tmp_path / 'prometheus.log').read_text()}")
            time.sleep(0.05)
        return Prometheus(f"http://127.0.0.1:{port}")

    yield start
    for process in processes:
        process.kill()
        process.wait()


def dashboard(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))
    return loaded


def panel(name: str, title: str) -> dict[str, Any]:
    pending = list(dashboard(name)["panels"])
    while pending:
        found = pending.pop(0)
        pending.extend(found.get("panels", []))
        if found.get("title") == title:
            return found
    raise KeyError(title)


def query(name: str, title: str, ref_id: str = "A", **values: str) -> str:
    """The panel's query as Grafana sends it: filters on All (".*") unless given, other variables as given."""
    (target,) = [target for target in panel(name, title)["targets"] if target["refId"] == ref_id]

    def value(match: re.Match[str]) -> str:
        variable = match.group(1) or match.group(2)
        if variable in values:
            return values[variable]
        if variable in FILTERS:
            return ".*"
        raise AssertionError(f"the test gives no value for ${variable} in {target['expr']}")

    return _VARIABLE.sub(value, target["expr"])


def range_values(range_s: int) -> dict[str, str]:
    return {"__range": f"{range_s}s", "__range_s": str(range_s)}


# ---------------------------------------------------------------- commitment break-even

CHARGEBACK = "ai-cost-chargeback.json"
BREAK_EVEN = "Commitment break-even"


def test_break_even_of_an_idle_provisioned_deployment_shows_the_whole_commitment_wasted(
    prometheus: Callable[[list[Series]], Prometheus],
) -> None:
    """A PTU deployment that served nothing in the range has no provisioned series: pure waste, not "No data"."""
    on_demand = {"ai_cost_commitment": "on_demand"}
    prom = prometheus(
        [
            counter("gen_ai_client_cost_USD_total", [(2 * HOUR, 1 / HOUR)], **on_demand),
            counter("ai_cost_list_cost_USD_total", [(2 * HOUR, 1 / HOUR)], **on_demand),
        ]
    )
    # 7300 USD a month of 730 hours is 10 USD an hour.
    values = {**range_values(HOUR), "commitment_usd_per_month": "7300"}
    panel_value = {ref: prom.scalar(query(CHARGEBACK, BREAK_EVEN, ref, **values), at=90 * 60) for ref in "ABC"}
    assert panel_value == {"A": 0.0, "B": pytest.approx(10.0), "C": pytest.approx(-10.0)}


def test_break_even_counts_provisioned_traffic(prometheus: Callable[[list[Series]], Prometheus]) -> None:
    provisioned = {"ai_cost_commitment": "provisioned"}
    prom = prometheus(
        [
            counter("gen_ai_client_cost_USD_total", [(2 * HOUR, 0.0)], **provisioned),
            counter("ai_cost_list_cost_USD_total", [(2 * HOUR, 12 / HOUR)], **provisioned),
        ]
    )
    values = {**range_values(HOUR), "commitment_usd_per_month": "7300"}
    panel_value = {ref: prom.scalar(query(CHARGEBACK, BREAK_EVEN, ref, **values), at=90 * 60) for ref in "ABC"}
    assert panel_value == {"A": pytest.approx(12.0), "B": pytest.approx(10.0), "C": pytest.approx(2.0)}


# ---------------------------------------------------------------- daily spend


def grafana_steps(start: int, end: int, step: int, utc_offset: int = 0) -> tuple[int, int]:
    """Grafana's Prometheus data source rounds the start and end of a range query down to a multiple of the step
    in the dashboard's time zone (AlignTimeRange in pkg/promlib/models/query.go), so daily steps fall on midnights
    and the last one is today's midnight."""
    return tuple((t + utc_offset) // step * step - utc_offset for t in (start, end))  # type: ignore[return-value]


def test_daily_spend_shows_each_day_at_its_own_midnight_and_today_so_far(
    prometheus: Callable[[list[Series]], Prometheus],
) -> None:
    # 1 USD/h on 1 January, 2 USD/h on 2 January, 3 USD/h on 3 January until 10:00, which is now.
    prom = prometheus(
        [
            counter(
                "gen_ai_client_cost_USD_total",
                [(DAY, 1 / HOUR), (DAY, 2 / HOUR), (10 * HOUR, 3 / HOUR)],
                ai_cost_commitment="on_demand",
            )
        ]
    )
    daily = panel(CHARGEBACK, "Daily spend by team")
    step = DAY
    assert daily["interval"] == "1d"  # the minimum step, so $__interval is 1d for the ranges a dashboard shows
    now = 2 * DAY + 10 * HOUR
    start, end = grafana_steps(now - 3 * DAY, now, step)
    expr = query(CHARGEBACK, "Daily spend by team", __interval="1d")
    bars = prom.range(expr, start, end, step)
    assert list(bars) == [frozenset({("ai_cost_team", "search")})]
    (by_day,) = bars.values()
    # Today so far is 30 USD; increase() adds half a sample interval of extrapolation at the open end.
    assert by_day == {0: pytest.approx(24.0), DAY: pytest.approx(48.0), 2 * DAY: pytest.approx(30.0, abs=0.1)}
    # Each bar is drawn from its timestamp to the next one, over the day it counts.
    assert daily["fieldConfig"]["defaults"]["custom"]["barAlignment"] == 1


# ---------------------------------------------------------------- filter variables

NAMES = ("ai-cost-overview.json", "ai-cost-chargeback.json", "ai-cost-efficiency.json")
LABEL_VALUES = re.compile(r"label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)")


@pytest.mark.parametrize("name", NAMES)
def test_filters_offer_teams_and_models_without_priced_traffic(
    prometheus: Callable[[list[Series]], Prometheus], name: str
) -> None:
    """Research only calls a model nobody prices, ops only gets errors: the unpriced-requests table and the error
    rate must be filterable to them."""
    priced = {"ai_cost_commitment": "on_demand"}
    research = {"ai_cost_team": "research", "ai_cost_feature": "lab", "gen_ai_request_model": "mystery-model-x"}
    ops = {"ai_cost_team": "ops", "ai_cost_feature": "pager", "gen_ai_provider_name": "anthropic"}
    prom = prometheus(
        [
            counter("gen_ai_client_cost_USD_total", [(HOUR, 1 / HOUR)], **priced),
            counter("ai_cost_requests_total", [(HOUR, 1 / 60)]),
            counter("ai_cost_requests_total", [(HOUR, 1 / 60)], **research),
            counter("ai_cost_unpriced_total", [(HOUR, 1 / 60)], **research, ai_cost_unpriced_reason="unknown_model"),
            counter("ai_cost_requests_total", [(HOUR, 1 / 60)], **ops, error_type="529"),
        ]
    )
    offered = {}
    for variable in dashboard(name)["templating"]["list"]:
        if variable["name"] in FILTERS:
            match = LABEL_VALUES.fullmatch(variable["query"]["query"].strip())
            assert match, variable["query"]
            offered[variable["name"]] = prom.label_values(match.group(2), match.group(1), 0, HOUR)
    assert offered == {
        "team": {"search", "research", "ops"},
        "feature": {"answers", "lab", "pager"},
        "environment": {"production"},
        "provider": {"openai", "anthropic"},
        "model": {"gpt-4o", "mystery-model-x"},
    }


# ---------------------------------------------------------------- savings

EFFICIENCY = "ai-cost-efficiency.json"


def test_savings_leave_out_provisioned_requests(prometheus: Callable[[list[Series]], Prometheus]) -> None:
    """A provisioned (PTU) request costs 0 with or without its cache hits: nothing was saved on the bill."""
    prom = prometheus(
        [
            counter("ai_cost_savings_USD_total", [(2 * HOUR, 1 / HOUR)], ai_cost_commitment="on_demand"),
            counter("ai_cost_savings_USD_total", [(2 * HOUR, 2 / HOUR)], ai_cost_commitment="batch"),
            counter("ai_cost_savings_USD_total", [(2 * HOUR, 5 / HOUR)], ai_cost_commitment="provisioned"),
        ]
    )
    expr = query(EFFICIENCY, "Savings from caching and batch", **range_values(HOUR))
    assert prom.scalar(expr, at=90 * 60) == pytest.approx(3.0)


# ---------------------------------------------------------------- ratios over a quiet range

OVERVIEW = "ai-cost-overview.json"
RATIOS = [
    (OVERVIEW, "Cost per request", "A"),
    (CHARGEBACK, "Untagged share", "A"),
    (EFFICIENCY, "Tokens per request", "A"),
    (EFFICIENCY, "Cache hit ratio", "A"),
    (EFFICIENCY, "Reasoning share of output tokens", "A"),
    (EFFICIENCY, "Error rate by provider", "A"),
    (EFFICIENCY, "Cost per successful outcome", "A"),
    (EFFICIENCY, "Cost per successful outcome", "B"),
]
BUSY, QUIET = (HOUR, 1.0), (HOUR, 0.0)  # an hour of one event per second, then an idle hour
RATE_VALUES = {"__rate_interval": "5m", **range_values(30 * 60)}


def traffic_then_quiet() -> list[Series]:
    """An hour of traffic of every kind the ratio panels divide, then an idle hour (the series stay, flat)."""
    workflow = {"ai_cost_workflow_name": "triage", "ai_cost_team": "support"}
    return [
        counter("gen_ai_client_cost_USD_total", [BUSY, QUIET], ai_cost_commitment="on_demand"),
        counter("gen_ai_client_cost_USD_total", [BUSY, QUIET], ai_cost_commitment="on_demand", ai_cost_untagged="true"),
        counter("ai_cost_requests_total", [BUSY, QUIET]),
        counter("ai_cost_requests_total", [BUSY, QUIET], error_type="429"),
        *(counter("ai_cost_tokens_total", [BUSY, QUIET], ai_cost_token_type=kind) for kind in TOKEN_TYPES),
        # Successful runs in the first hour only; failing runs go on costing in the second.
        counter("ai_cost_workflow_cost_USD_sum", [BUSY, QUIET], **workflow, ai_cost_workflow_outcome="success"),
        counter("ai_cost_workflow_cost_USD_count", [BUSY, QUIET], **workflow, ai_cost_workflow_outcome="success"),
        counter("ai_cost_workflow_cost_USD_sum", [BUSY, BUSY], **workflow, ai_cost_workflow_outcome="failure"),
        counter("ai_cost_workflow_cost_USD_count", [BUSY, BUSY], **workflow, ai_cost_workflow_outcome="failure"),
    ]


TOKEN_TYPES = ("input", "output", "cache_read", "reasoning")


def test_ratio_panels_show_no_data_rather_than_nan_or_infinity_when_nothing_was_divided(
    prometheus: Callable[[list[Series]], Prometheus],
) -> None:
    prom = prometheus(traffic_then_quiet())
    busy, quiet = {}, {}
    for name, title, ref_id in RATIOS:
        expr = query(name, title, ref_id, **RATE_VALUES)
        busy[title, ref_id] = prom.instant(expr, at=HOUR)
        quiet[title, ref_id] = prom.instant(expr, at=2 * HOUR)
    # While there is traffic every ratio has a finite value ...
    assert all(result and all(math.isfinite(v) for v in result.values()) for result in busy.values()), busy
    # ... and in the idle hour none (Grafana's "No data"): a 0/0 would be NaN, cost / 0 successes +Inf.
    assert quiet == {key: {} for key in quiet}


# ---------------------------------------------------------------- cost per request


def test_cost_per_request_divides_by_the_priced_requests(prometheus: Callable[[list[Series]], Prometheus]) -> None:
    """Unpriced requests add no cost, so counting them would make every request look cheaper."""
    research = {"ai_cost_team": "research", "gen_ai_request_model": "mystery-model-x"}
    per_minute = [(2 * HOUR, 1 / 60)]
    prom = prometheus(
        [
            # One priced request a minute at 0.02 USD, one unpriced, one failed (no cost).
            counter("gen_ai_client_cost_USD_total", [(2 * HOUR, 0.02 / 60)], ai_cost_commitment="on_demand"),
            counter("ai_cost_requests_total", per_minute),
            counter("ai_cost_requests_total", per_minute, error_type="429"),
            counter("ai_cost_requests_total", per_minute, **research),
            counter("ai_cost_unpriced_total", per_minute, **research, ai_cost_unpriced_reason="unknown_model"),
        ]
    )
    expr = query(OVERVIEW, "Cost per request", **range_values(HOUR))
    assert prom.scalar(expr, at=90 * 60) == pytest.approx(0.02)
