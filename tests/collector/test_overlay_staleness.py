"""The overlay's deltatocumulative `max_stale` against low-traffic series, checked with promtool.

The sum connector sends a delta only when a span arrives; deltatocumulative adds it to the series'
running total, unless the series was quiet for longer than `max_stale`: then it was forgotten and
starts again from zero. Prometheus only sees the totals. If the restarted total is not below the
old one it sees no counter reset and counts only the difference, so the request is undercounted.
"""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from otelcol_schema import REPO_ROOT

OVERLAY = REPO_ROOT / "collector" / "spans-to-metrics.overlay.yaml"
METRIC = 'gen_ai_client_cost_USD_total{ai_cost_source="spans",ai_cost_team="t"}'


def duration(text: str) -> timedelta:
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([hms])", text)
    assert parts and "".join(a + b for a, b in parts) == text, text
    return timedelta(seconds=sum(int(n) * units[u] for n, u in parts))


def max_stale() -> timedelta:
    config = yaml.safe_load(OVERLAY.read_text(encoding="utf-8"))
    return duration(config["processors"]["deltatocumulative"]["max_stale"])


def remote_written(requests: list[tuple[int, float]], stale: timedelta) -> list[tuple[int, float]]:
    """(minute, cumulative total) samples deltatocumulative sends for requests at (minute, USD)."""
    samples: list[tuple[int, float]] = []
    total, last = 0.0, None
    for minute, usd in requests:
        if last is not None and timedelta(minutes=minute - last) > stale:
            total = 0.0  # the stream was forgotten: a new one starts
        total += usd
        last = minute
        samples.append((minute, round(total, 10)))
    return samples


def promtool_increase(promtool: str, tmp_path: Path, samples: list[tuple[int, float]], expected: float) -> None:
    """promtool checks what Prometheus counts between the first and the last sample."""
    last = samples[-1][0]
    values = []
    for minute in range(last + 1):
        value = dict(samples).get(minute)
        values.append("_" if value is None else repr(value))
    (tmp_path / "none.rules.yaml").write_text("groups: []\n")
    test = {
        "rule_files": ["none.rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": METRIC, "values": " ".join(values)}],
                # Prometheus sees no counter reset (a restarted total that is not below the old one
                # looks like growth), so what it counts from the first request to the last is the
                # difference of the totals, without increase()'s extrapolation.
                "promql_expr_test": [
                    {
                        "expr": f"sum(resets({METRIC}[{last + 1}m]))",
                        "eval_time": f"{last}m",
                        "exp_samples": [{"labels": "{}", "value": 0}],
                    },
                    {
                        "expr": f"round(1e6 * (sum({METRIC}) - sum({METRIC} offset {last - samples[0][0]}m)))",
                        "eval_time": f"{last}m",
                        "exp_samples": [{"labels": "{}", "value": round(expected * 1e6)}],  # micro-USD
                    },
                ],
            }
        ],
    }
    path = tmp_path / "stale.test.yaml"
    path.write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_the_reviewers_case_is_undercounted_with_a_short_max_stale(promtool_path: str, tmp_path: Path) -> None:
    """0.05 USD, then 0.06 USD an hour later: with 15m Prometheus counts +0.01 for the second request."""
    samples = remote_written([(0, 0.05), (60, 0.06)], timedelta(minutes=15))
    assert samples == [(0, 0.05), (60, 0.06)]
    promtool_increase(promtool_path, tmp_path, samples, 0.01)


@pytest.mark.parametrize(
    "requests",
    [
        [(0, 0.05), (60, 0.06)],  # an hour apart
        [(0, 0.05), (24 * 60, 0.06), (48 * 60, 0.07)],  # a nightly job
        [(0, 0.30), (5, 0.01), (8 * 60, 0.02), (30 * 60, 0.50)],  # a quiet team, other sizes
    ],
    ids=["hourly", "nightly", "irregular"],
)
def test_the_shipped_max_stale_counts_every_request_of_a_low_traffic_series(
    promtool_path: str, tmp_path: Path, requests: list[tuple[int, float]]
) -> None:
    samples = remote_written(requests, max_stale())
    spent_after_the_first = round(sum(usd for _minute, usd in requests[1:]), 10)
    promtool_increase(promtool_path, tmp_path, samples, spent_after_the_first)


def test_max_stale_is_well_above_a_daily_gap() -> None:
    assert max_stale() >= timedelta(hours=25), "a nightly job's series must survive until its next run"
    assert max_stale() <= timedelta(days=8), "every series is held this long: mind the memory"
