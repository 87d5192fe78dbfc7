"""A metrics exporter for local use: a cost table printed when the process exits.

    OTEL_METRICS_EXPORTER=ai_cost_summary opentelemetry-instrument python app.py

It keeps the latest cumulative totals of the cost, unpriced and token instruments and prints,
at shutdown, spend by team, feature and model, the untagged share and the unpriced requests.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import IO, Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

from otel_ai_cost.telemetry import names

TEAM = names.TAG_PREFIX + "team"
FEATURE = names.TAG_PREFIX + "feature"


class CostSummaryExporter(MetricExporter):
    def __init__(self, out: IO[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._out = out
        self._cost: dict[tuple[str, str, str, str], float] = {}
        """USD by team, feature, model and whether the request was untagged."""
        self._unpriced: dict[tuple[str, str], float] = {}
        self._printed = False

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        for resource_metrics in metrics_data.resource_metrics:
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == names.COST[0]:
                        keys = (TEAM, FEATURE, names.REQUEST_MODEL, names.UNTAGGED)
                        self._cost = self._totals(metric, keys)  # type: ignore[assignment]
                    elif metric.name == names.UNPRICED[0]:
                        self._unpriced = self._totals(metric, (names.REQUEST_MODEL, names.UNPRICED_REASON))  # type: ignore[assignment]
        return MetricExportResult.SUCCESS

    @staticmethod
    def _totals(metric: Any, keys: tuple[str, ...]) -> dict[tuple[str, ...], float]:
        totals: dict[tuple[str, ...], float] = defaultdict(float)
        for point in metric.data.data_points:
            attributes = point.attributes or {}
            totals[tuple(str(attributes.get(k, "-")) for k in keys)] += point.value
        return dict(totals)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if not self._printed:
            self._printed = True
            print(self.render(), file=self._out or sys.stdout)

    def render(self) -> str:
        lines = ["", "otel-ai-cost: AI spend of this process (USD)"]
        if not self._cost and not self._unpriced:
            lines.append("  no priced AI requests were seen")
            return "\n".join(lines)
        total = sum(self._cost.values())
        rows: dict[tuple[str, str, str], float] = defaultdict(float)
        for (team, feature, model, _), usd in self._cost.items():
            rows[team, feature, model] += usd
        lines.append(f"  {'team':<16}{'feature':<20}{'model':<32}{'cost':>14}")
        for (team, feature, model), usd in sorted(rows.items(), key=lambda item: -item[1]):
            lines.append(f"  {team:<16}{feature:<20}{model:<32}{_usd(usd):>14}")
        lines.append(f"  {'total':<68}{_usd(total):>14}")
        # A required dimension other than team and feature may be the missing one (OTEL_AI_COST_REQUIRED_TAGS).
        untagged = sum(usd for (_, _, _, flag), usd in self._cost.items() if flag == "True")
        if untagged:
            share = untagged / total * 100 if total else 0.0
            lines.append(
                f"  untagged: {_usd(untagged)} ({share:.1f}% of spend) - wrap the calls in otel_ai_cost.tags()"
            )
        for (model, reason), count in sorted(self._unpriced.items()):
            lines.append(f"  unpriced: {int(count)} request(s) to {model} ({reason})")
        return "\n".join(lines)


def _usd(value: float) -> str:
    return f"${value:,.6f}" if value < 1 else f"${value:,.2f}"
