"""Fixtures shared by every test folder."""

from __future__ import annotations

import shutil

import pytest


def _debian_prometheus_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make test` installs the Debian package prometheus")
    return path


@pytest.fixture(scope="session")
def promtool_path() -> str:
    """promtool from the Debian package prometheus; the test fails (not skips) without it."""
    return _debian_prometheus_tool("promtool")


@pytest.fixture(scope="session")
def prometheus_path() -> str:
    """The prometheus server from the Debian package; the test fails (not skips) without it."""
    return _debian_prometheus_tool("prometheus")
