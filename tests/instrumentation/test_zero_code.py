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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "ANTHROPIC_", "AWS_"))}
    env.update(
        OPENAI_BASE_URL=f"{standin}/v1",
        ANTHROPIC_BASE_URL=f"{standin}/anthropic",
        GEMINI_BASE_URL=f"{standin}/gemini",
        BEDROCK_ENDPOINT_URL=standin,
        OTEL_AI_COST_ENDPOINTS=f"{standin}/v1=openai,{standin}/anthropic=anthropic,{standin}/gemini=gemini",
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

    costs = {
        tuple(line.split()[:3]): float(line.split()[3].lstrip("$"))
        for line in table.splitlines()
        if len(line.split()) == 4 and line.split()[3].startswith("$")
    }
    # Gemini (google-genai over httpx2): the stand-in answers 3000 + ~20 prompt tokens, 420 output and
    # 900 thinking tokens (billed as output); gemini-2.5-flash $0.30 / $2.50 per 1M:
    # 3000 x 0.30 + 1320 x 2.50 = 4200 -> $0.0042, plus under 100 prompt tokens x 0.30 (< $0.00003).
    gemini = costs[("research", "literature-review", "gemini-2.5-flash")]
    assert 0.0042 < gemini < 0.00423, table
    # Bedrock Converse (boto3), two triage runs of amazon.nova-lite $0.06 / $0.24 per 1M: each 600 + ~20
    # input and 60 output tokens: 2 x (600 x 0.06 + 60 x 0.24) = 2 x 50.4 = 100.8 -> $0.0001008, plus
    # under 2 x 100 prompt tokens x 0.06 (< $0.000012).
    nova = costs[("support", "triage", "amazon.nova-lite-v1:0")]
    assert 0.0001008 < nova < 0.0001128, table
    # The lab budget of $0.01 on gpt-4o ($2.50 in, $1.25 cached, $10 out per 1M): each request is
    # ~1214 input (1024 cached) and 180 output: 190 x 2.5 + 1024 x 1.25 + 180 x 10 = 3555 -> ~$0.0036.
    # Two leave the budget unspent ($0.0071), the third spends it ($0.0107): the fourth is not sent.
    assert "stopped the experiment after 3 requests" in table
    assert 0.0105 < costs[("lab", "prompt-experiments", "gpt-4o")] < 0.0108, table
    assert "Traceback" not in result.stderr
