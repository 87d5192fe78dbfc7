"""Helpers every test folder uses: the data points of a metric in an in-memory reader, and a
loopback server answering from its own thread. (`tests` is on pytest's `pythonpath`.)"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry.sdk.metrics.export import InMemoryMetricReader


def metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """Every data point of the metric `name`, across resources and scopes (cumulative)."""
    data = reader.get_metrics_data()
    return [
        point
        for resource_metrics in (data.resource_metrics if data else [])
        for scope in resource_metrics.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


ServerT = TypeVar("ServerT", bound=socketserver.BaseServer)


@contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """A loopback server answering from its own thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
