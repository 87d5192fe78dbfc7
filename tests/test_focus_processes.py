"""The FOCUS span exporter in several processes: forked workers writing one file, and a fork while a
thread of the parent is writing. Real processes (os.fork) and real files; where two processes must
overlap, one of them pauses inside its write (in pyarrow or csv, not in our code) until the test has
let the other one write."""

from __future__ import annotations

import csv
import io
import os
import select
import signal
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from focus_testkit import (
    Workload,
    at,
    workload_fixture,  # noqa: F401
)
from opentelemetry.sdk.trace import ReadableSpan

from otel_ai_cost.exporters.focus import FocusSpanExporter, write_rows

REQUESTS = 5
"""Billable requests in the workload's spans (one more is an HTTP 429)."""


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def fork(body: Callable[[], bool]) -> int:
    """Runs `body` in a child process, which exits 0 when it returns True."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if body() else 1
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def exit_code(pid: int, timeout: float) -> int | None:
    """The child's exit code; None when it is still running after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def wait(pid: int, timeout: float) -> int | None:
    """The child's exit code; None (and the child killed) when it has not exited within `timeout` s."""
    code = exit_code(pid, timeout)
    if code is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return code


def readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def flush_to(path: Path, spans: list[ReadableSpan]) -> Callable[[], bool]:
    def body() -> bool:
        exporter = FocusSpanExporter(path)
        exporter.export(spans)
        return exporter.force_flush()

    return body


def overlap(module: Any, name: str, first: Callable[[], bool], second: Callable[[], bool]) -> None:
    """Runs `first` in a child that pauses right after its first call of module.name; while it is
    paused, runs `second` in another child and gives it up to 2 s (it may have to wait for the first);
    then lets the first go on. Both must succeed."""
    paused_r, paused_w = os.pipe()
    go_r, go_w = os.pipe()

    def pausing() -> bool:
        real = getattr(module, name)

        def pause(*args: Any, **kwargs: Any) -> Any:
            setattr(module, name, real)
            result = real(*args, **kwargs)
            os.write(paused_w, b"p")
            os.read(go_r, 1)
            return result

        setattr(module, name, pause)
        return first()

    one = fork(pausing)
    try:
        assert readable(paused_r, 10), f"the first process never called {name}"
        two = fork(second)
        second_code = exit_code(two, 2)
    finally:
        os.write(go_w, b"g")
        for fd in (paused_r, paused_w, go_r, go_w):
            os.close(fd)
    assert wait(one, 10) == 0
    assert (second_code if second_code is not None else wait(two, 10)) == 0


def requests_in(path: Path) -> int:
    if path.suffix == ".parquet":
        return sum(pq.read_table(path).column("x_Requests").to_pylist())
    with path.open(encoding="utf-8", newline="") as file:
        return sum(int(row["x_Requests"]) for row in csv.DictReader(file))


def test_processes_writing_one_parquet_file_lose_no_rows(workload: Workload, tmp_path: Path) -> None:
    """Each write reads the file, adds its rows and renames a new file over it: a second process
    must not read the file while the first is between its read and its rename."""
    path = tmp_path / "focus.parquet"
    spans = workload.run()
    assert flush_to(path, spans)()  # the file both processes will read
    overlap(pq, "read_table", flush_to(path, spans), flush_to(path, spans))
    assert requests_in(path) == 3 * REQUESTS


def test_a_child_forked_while_a_thread_of_its_parent_flushes_exits_at_once(workload: Workload, tmp_path: Path) -> None:
    """The child has only the thread that forked: a lock another thread held at the fork is never
    released in it, and its shutdown (at exit, from the TracerProvider) must not wait for one."""
    fifo = tmp_path / "focus.csv"
    os.mkfifo(fifo)  # a write to it blocks, holding the exporter's lock, until the test reads
    exporter = FocusSpanExporter(fifo)
    exporter.export(workload.run())
    flusher = threading.Thread(target=exporter.force_flush)
    flusher.start()
    try:
        deadline = time.monotonic() + 10
        while not exporter._lock.locked() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert exporter._lock.locked()

        def shut_down() -> bool:
            exporter.shutdown()
            return True

        child = fork(shut_down)
        code = wait(child, 5)
    finally:
        written = fifo.read_text(encoding="utf-8")  # lets the flusher go on
        flusher.join(10)
    assert code == 0, "the child hung in its exporter's shutdown"
    assert sum(int(row["x_Requests"]) for row in csv.DictReader(io.StringIO(written))) == REQUESTS


def test_a_child_forked_while_a_thread_of_its_parent_writes_a_parquet_file_can_write_it(
    workload: Workload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "focus.parquet"
    spans = workload.run()
    assert flush_to(path, spans)()
    rows = pq.read_table(path).to_pylist()
    real_read = pq.read_table
    reading, go = threading.Event(), threading.Event()

    def read_then_wait(*args: Any, **kwargs: Any) -> Any:
        table = real_read(*args, **kwargs)
        reading.set()
        go.wait(10)
        return table

    monkeypatch.setattr(pq, "read_table", read_then_wait)
    writer = threading.Thread(target=write_rows, args=(rows, path, "parquet"), kwargs={"append": True})
    writer.start()
    try:
        assert reading.wait(10)

        def write() -> bool:
            pq.read_table = real_read
            write_rows(rows, path, "parquet", append=True)
            return True

        child = fork(write)  # it waits for the parent's writer, then writes
    finally:
        go.set()
        writer.join(10)
    assert wait(child, 5) == 0, "the child hung on a lock the parent's writer held at the fork"
    assert requests_in(path) == 3 * REQUESTS


def test_a_forked_child_writes_its_own_rows_and_not_its_parents(workload: Workload, tmp_path: Path) -> None:
    path = tmp_path / "focus.csv"
    spans = [at(span, ns("2026-05-10T14:10:00")) for span in workload.run()]
    exporter = FocusSpanExporter(path, clock=lambda: ns("2026-05-10T14:20:00") / 1e9)  # the hour is open
    exporter.export(spans)  # rows the parent writes at its shutdown

    def serve_and_exit() -> bool:
        exporter.export(spans[:2])  # 2 requests of the child's own
        exporter.shutdown()
        return True

    assert wait(fork(serve_and_exit), 10) == 0
    exporter.shutdown()
    assert requests_in(path) == REQUESTS + 2


def test_processes_appending_to_one_csv_file_write_one_header(workload: Workload, tmp_path: Path) -> None:
    """Whether to write the header is decided by looking at the file: a second process must not look
    while the first has seen an empty file and not yet written its header."""
    path = tmp_path / "focus.csv"
    spans = workload.run()
    overlap(csv, "writer", flush_to(path, spans), flush_to(path, spans))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [number for number, line in enumerate(lines) if line.startswith("BilledCost,")] == [0]
    assert requests_in(path) == 2 * REQUESTS
