"""`opentelemetry-instrument python app.py`: the entry point loads the instrumentor with no code change.

Runs the demo app in a subprocess against the local stand-in server over real sockets (chunked
SSE included) and reads the cost summary exporter's table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port_file = tmp_path_factory.mktemp("standin") / "port"
    server = subprocess.Popen([sys.executable, str(EXAMPLES / "standin_server.py"), str(port_file)])
    try:
        for _ in range(200):
            if port_file.exists() and port_file.read_text():
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_demo_app_under_opentelemetry_instrument(standin: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        OPENAI_BASE_URL=f"{standin}/v1",
        ANTHROPIC_BASE_URL=f"{standin}/anthropic",
        OTEL_AI_COST_ENDPOINTS=f"{standin}/v1=openai,{standin}/anthropic=anthropic",
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRICS_EXPORTER="ai_cost_summary",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=ci",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    result = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(EXAMPLES / "demo_app.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    table = result.stdout
    assert "otel-ai-cost: AI spend of this process" in table
    # DALL-E 3, hd, 1792x1024, n=1: $0.12
    assert any(
        line.split()[:3] == ["marketing", "campaign-images", "dall-e-3"] and "$0.120000" in line
        for line in table.splitlines()
    ), table
    # the streamed chat (include_usage) is priced, so it has a line of its own
    assert any(line.split()[:2] == ["product", "writing-assistant"] for line in table.splitlines()), table
    assert "untagged:" in table  # forgotten_tags() is reported, not dropped
    assert "Traceback" not in result.stderr
