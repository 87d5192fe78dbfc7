"""The real boto3 bedrock-runtime client against a loopback HTTP server answering as Bedrock does.

Streams come in the binary `application/vnd.amazon.eventstream` framing (`eventstream_testkit`), so
botocore's own EventStream parses them. Prices (USD per 1M tokens, Bedrock on-demand list):
Claude 3.5 Haiku 0.80 in, 4.00 out, 0.08 cache read, 1.00 cache write; Claude Sonnet 4.5 global
3.00 / 15.00; Nova Lite 0.06 / 0.24; Llama 3.1 8B 0.22 / 0.22; Titan Text Express 0.20 / 0.60;
Titan Text Embeddings V2 0.02; Mistral 7B 0.15 / 0.20. Images: Titan Image Generator v2 premium
1024x1024 $0.012, Nova Canvas standard 1024x1024 $0.04.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from eventstream_testkit import chunk_event, event, exception_event
from opentelemetry.trace import StatusCode
from otel_testkit import serving

from otel_ai_cost import BudgetExceeded, budget, tags

if TYPE_CHECKING:
    from .conftest import Telemetry

FIXTURES = Path(__file__).parent.parent / "providers" / "fixtures"
HAIKU_35 = "anthropic.claude-3-5-haiku-20241022-v1:0"
SONNET_45_GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


Answer = tuple[int, dict[str, str], bytes]


class FakeBedrock(ThreadingHTTPServer):
    """Answers each POST with the next queued answer; keeps the request paths and bodies."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[Answer] = []
        self.requests: list[tuple[str, bytes]] = []

    def answer(self, body: bytes | dict[str, Any], *, status: int = 200, **headers: str) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers.append((status, {"Content-Type": "application/json", **headers}, raw))

    def stream(self, messages: list[bytes], **headers: str) -> None:
        self.answers.append(
            (200, {"Content-Type": "application/vnd.amazon.eventstream", **headers}, b"".join(messages))
        )


class _Handler(BaseHTTPRequestHandler):
    server: FakeBedrock

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.path, body))
        status, headers, raw = self.server.answers.pop(0)
        self.send_response(status)
        for name, value in {"x-amzn-RequestId": "6c4b2f1e-0000-4000-8000-000000000001", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[FakeBedrock]:
    with serving(FakeBedrock()) as fake:
        yield fake


def bedrock_client(server: FakeBedrock, attempts: int = 1) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


@pytest.fixture
def client(server: FakeBedrock, telemetry: Telemetry) -> Any:
    return bedrock_client(server)


def token_headers(input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> dict[str, str]:
    return {
        "X-Amzn-Bedrock-Input-Token-Count": str(input_tokens),
        "X-Amzn-Bedrock-Output-Token-Count": str(output_tokens),
        "X-Amzn-Bedrock-Cache-Read-Input-Token-Count": str(cache_read),
        "X-Amzn-Bedrock-Cache-Write-Input-Token-Count": str(cache_write),
        "X-Amzn-Bedrock-Invocation-Latency": "812",
    }


def test_converse_with_cache_tokens(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer(fixture("bedrock_converse_cache.json"))
    with tags(team="legal", feature="contracts"):
        response = client.converse(modelId=HAIKU_35, messages=[{"role": "user", "content": [{"text": "Clause?"}]}])

    assert response["output"]["message"]["content"][0]["text"] == "Section 4 covers termination."
    assert server.requests[0][0] == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    span = telemetry.one_span()
    attributes = span.attributes or {}
    assert span.name == f"chat {HAIKU_35}"
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["gen_ai.usage.input_tokens"] == 8288  # 96 + 6144 + 2048
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 6144
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 2048
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attributes["ai.cost.team"] == "legal"
    # 96 x 0.80 + 6144 x 0.08 + 2048 x 1.00 + 412 x 4.00 = 76.8 + 491.52 + 2048 + 1648 = 4264.32 per 1M
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.00426432, rel=1e-9)
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "legal"}) == pytest.approx(0.00426432, rel=1e-9)
    # the cache hits saved 6144 x (0.80 - 0.08) = 4423.68 per 1M
    assert telemetry.total("ai.cost.savings") == pytest.approx(0.00442368, rel=1e-9)


def test_converse_stream(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    events = [json.loads(line) for line in fixture("bedrock_converse_stream.jsonl").splitlines()]
    server.stream([event(next(iter(e)), next(iter(e.values()))) for e in events])
    model = "us.amazon.nova-lite-v1:0"

    response = client.converse_stream(modelId=model, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert telemetry.finished() == []  # nothing read yet
    received = list(response["stream"])

    assert received == events  # the caller sees the very events botocore parsed
    span = telemetry.one_span()
    attributes = span.attributes or {}
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (2500, 600)
    # 2500 x 0.06 + 600 x 0.24 = 150 + 144 = 294 per 1M
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.000294, rel=1e-9)


def test_converse_stream_closed_early_ends_the_span_once(
    client: Any, server: FakeBedrock, telemetry: Telemetry
) -> None:
    server.stream([event("messageStart", {"role": "assistant"}), event("contentBlockDelta", {"delta": {"text": "a"}})])
    response = client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=[])
    stream = response["stream"]
    for _ in stream:
        break
    stream.close()
    span = telemetry.one_span()
    assert (span.attributes or {})["ai.cost.unpriced_reason"] == "no_usage"


def test_converse_stream_error_event(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.stream(
        [
            event("messageStart", {"role": "assistant"}),
            exception_event("modelStreamErrorException", "The model stopped."),
        ]
    )
    response = client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=[])
    with pytest.raises(EventStreamError) as raised:
        list(response["stream"])

    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"
    attributes = telemetry.one_span().attributes or {}
    assert attributes["error.type"] == "modelStreamErrorException"
    assert "gen_ai.usage.cost.amount" not in attributes


def test_invoke_model_anthropic_body(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer(fixture("bedrock_anthropic_message.json"), **token_headers(310, 180, 6144, 2048))
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 512, "messages": []})

    response = client.invoke_model(modelId=f"us.{HAIKU_35}", body=body)
    streaming_body = response["body"]
    assert isinstance(streaming_body, StreamingBody)
    assert telemetry.finished() == []  # the body is not read yet
    data = json.loads(streaming_body.read())

    assert data == json.loads(fixture("bedrock_anthropic_message.json"))
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.request.model"] == f"us.{HAIKU_35}"
    assert attributes["gen_ai.response.id"] == "msg_bdrk_01Lz7xXLV4ZpkAUqFYuqGGPr"
    assert attributes["gen_ai.usage.input_tokens"] == 8502  # 310 + 6144 + 2048
    # 310 x 0.80 + 6144 x 0.08 + 2048 x 1.00 + 180 x 4.00 = 248 + 491.52 + 2048 + 720 = 3507.52 per 1M
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.00350752, rel=1e-9)


def test_invoke_model_body_read_in_pieces(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer(fixture("bedrock_llama.json"), **token_headers(1, 1))
    response = client.invoke_model(modelId="meta.llama3-1-8b-instruct-v1:0", body=json.dumps({"prompt": "x"}))
    pieces = list(response["body"].iter_chunks(16))

    assert b"".join(pieces) == fixture("bedrock_llama.json")
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.operation.name"] == "text_completion"
    # 2000 x 0.22 + 500 x 0.22 = 440 + 110 = 550 per 1M
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.00055, rel=1e-9)


@pytest.mark.parametrize(
    ("model", "request_body", "response", "headers", "operation", "expected_usd"),
    [
        # 1200 x 0.06 + 350 x 0.24 = 72 + 84 = 156 per 1M
        ("amazon.nova-lite-v1:0", {"messages": []}, "bedrock_nova_invoke.json", (1, 1), "chat", 0.000156),
        # 800 x 0.20 + 240 x 0.60 = 160 + 144 = 304 per 1M
        (
            "amazon.titan-text-express-v1",
            {"inputText": "x", "textGenerationConfig": {}},
            "bedrock_titan_text.json",
            (1, 1),
            "text_completion",
            0.000304,
        ),
        # 5000 x 0.02 = 100 per 1M
        ("amazon.titan-embed-text-v2:0", {"inputText": "x"}, "bedrock_titan_embed.json", (1, 0), "embeddings", 0.0001),
        # no counts in the body: the headers' 900 in x 0.15 + 120 out x 0.20 = 135 + 24 = 159 per 1M
        (
            "mistral.mistral-7b-instruct-v0:2",
            {"prompt": "x"},
            "bedrock_mistral.json",
            (900, 120),
            "text_completion",
            0.000159,
        ),
    ],
    ids=["nova", "titan-text", "titan-embed", "mistral-headers"],
)
def test_invoke_model_body_families(
    client: Any,
    server: FakeBedrock,
    telemetry: Telemetry,
    model: str,
    request_body: dict[str, Any],
    response: str,
    headers: tuple[int, int],
    operation: str,
    expected_usd: float,
) -> None:
    server.answer(fixture(response), **token_headers(*headers))
    client.invoke_model(modelId=model, body=json.dumps(request_body))["body"].read()
    attributes = telemetry.one_span().attributes or {}
    assert attributes["gen_ai.operation.name"] == operation
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(expected_usd, rel=1e-9)


def test_cohere_is_read_but_not_in_the_price_catalog(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer(fixture("bedrock_cohere_command_r.json"))
    client.invoke_model(modelId="cohere.command-r-v1:0", body=json.dumps({"message": "x"}))["body"].read()
    attributes = telemetry.one_span().attributes or {}
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (700, 90)
    assert attributes["ai.cost.priced"] is False
    assert attributes["ai.cost.unpriced_reason"] == "unknown_model"


def test_invoke_model_with_response_stream_anthropic(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    chunks = fixture("bedrock_anthropic_stream.jsonl").splitlines()
    server.stream([chunk_event(chunk) for chunk in chunks], **{"X-Amzn-Bedrock-Content-Type": "application/json"})
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400, "messages": []})

    response = client.invoke_model_with_response_stream(modelId=SONNET_45_GLOBAL, body=body)
    received = [e["chunk"]["bytes"] for e in response["body"]]

    assert received == chunks
    span = telemetry.one_span()
    attributes = span.attributes or {}
    assert span.name == f"chat {SONNET_45_GLOBAL}"
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    # 1500 x 3.00 + 300 x 15.00 = 4500 + 4500 = 9000 per 1M (global endpoint price)
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.009, rel=1e-9)


def test_a_stream_error_after_message_start_keeps_the_input_read(
    client: Any, server: FakeBedrock, telemetry: Telemetry
) -> None:
    """As over HTTP: the input Anthropic reported at `message_start` was billed, whatever came after."""
    start = fixture("bedrock_anthropic_stream.jsonl").splitlines()[0]
    server.stream(
        [chunk_event(start), exception_event("modelStreamErrorException", "The model stopped.")],
        **{"X-Amzn-Bedrock-Content-Type": "application/json"},
    )
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 400, "messages": []})
    response = client.invoke_model_with_response_stream(modelId=SONNET_45_GLOBAL, body=body)
    with pytest.raises(EventStreamError):
        list(response["body"])
    span = telemetry.one_span()
    attributes = span.attributes or {}
    assert attributes["error.type"] == "modelStreamErrorException"
    assert span.status.status_code == StatusCode.ERROR
    # message_start said input 1500, output 1; the global endpoint's price, input 3.00 and output 15.00
    # per 1M: 1500 x 3.00 + 1 x 15.00 = 4500 + 15 = 4515 per 1M
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.004515)


def test_throttling_is_an_error_span_without_cost(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer(
        {"message": "Too many requests, please wait before trying again."},
        status=429,
        **{"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
    )
    with pytest.raises(ClientError) as raised:
        client.converse(modelId=HAIKU_35, messages=[])

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    span = telemetry.one_span()
    attributes = span.attributes or {}
    assert attributes["error.type"] == "ThrottlingException"
    assert "gen_ai.usage.cost.amount" not in attributes
    assert "Too many requests" not in (span.status.description or "")
    assert telemetry.total("ai.cost.requests", **{"error.type": "ThrottlingException"}) == 1
    assert telemetry.points("gen_ai.client.cost") == []


def test_image_priced_per_image_without_reading_the_body(
    client: Any, server: FakeBedrock, telemetry: Telemetry
) -> None:
    images = {"images": [base64.b64encode(b"\x89PNG fake").decode()] * 3, "error": None}
    server.answer(images)
    request = {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "a lighthouse at dusk"},
        "imageGenerationConfig": {"numberOfImages": 3, "width": 1024, "height": 1024, "quality": "premium"},
    }
    response = client.invoke_model(modelId="amazon.titan-image-generator-v2:0", body=json.dumps(request))

    span = telemetry.one_span()  # finished at once: the price is in the request
    attributes = span.attributes or {}
    assert attributes["gen_ai.operation.name"] == "image_generation"
    assert (attributes["ai.image.count"], attributes["ai.image.size"], attributes["ai.image.quality"]) == (
        3,
        "1024x1024",
        "premium",
    )
    # 3 images x $0.012 (premium, 1024x1024) = $0.036
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.036, rel=1e-9)
    assert json.loads(response["body"].read()) == images


def test_nova_canvas_default_size(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer({"images": ["aGVsbG8="]})
    request = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a lighthouse"}}
    client.invoke_model(modelId="amazon.nova-canvas-v1:0", body=json.dumps(request))
    # 1 image x $0.04 (standard, up to 1024x1024)
    assert (telemetry.one_span().attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(0.04, rel=1e-9)


def test_unknown_model_is_unpriced(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer({"output": {"message": {}}, "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 5}})
    client.converse(modelId="acme.secret-model-v9:0", messages=[])
    attributes = telemetry.one_span().attributes or {}
    assert attributes["ai.cost.priced"] is False
    assert attributes["ai.cost.unpriced_reason"] == "unknown_model"
    assert telemetry.total("ai.cost.unpriced", **{"ai.cost.unpriced_reason": "unknown_model"}) == 1


def test_unread_body_dropped_still_ends_the_span(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer(fixture("bedrock_mistral.json"), **token_headers(900, 120))
    response = client.invoke_model(modelId="mistral.mistral-7b-instruct-v0:2", body=json.dumps({"prompt": "x"}))
    assert telemetry.finished() == []
    del response
    gc.collect()
    attributes = telemetry.one_span().attributes or {}
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (900, 120)


def test_other_aws_services_and_operations_are_left_alone(
    client: Any, server: FakeBedrock, telemetry: Telemetry
) -> None:
    server.answer({"inputTokens": 12})
    client.count_tokens(modelId=HAIKU_35, input={"converse": {"messages": []}})
    assert telemetry.finished() == []


def test_uninstrument_restores_botocore(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    from botocore.client import BaseClient

    from otel_ai_cost import AICostInstrumentor

    assert hasattr(BaseClient.__dict__["_make_api_call"], "_self_wrapper")
    AICostInstrumentor().uninstrument()
    assert not hasattr(BaseClient.__dict__["_make_api_call"], "_self_wrapper")
    server.answer(fixture("bedrock_converse_cache.json"))
    client.converse(modelId=HAIKU_35, messages=[])
    assert telemetry.finished() == []

    telemetry.reinstrument()
    server.answer(fixture("bedrock_converse_cache.json"))
    client.converse(modelId=HAIKU_35, messages=[])
    assert len(telemetry.finished()) == 1


def test_a_spent_budget_stops_the_call_before_sending(client: Any, server: FakeBedrock, telemetry: Telemetry) -> None:
    server.answer(fixture("bedrock_converse_cache.json"))
    with budget(requests=1, name="bedrock-batch"):
        client.converse(modelId=HAIKU_35, messages=[])
        with pytest.raises(BudgetExceeded):
            client.converse(modelId=HAIKU_35, messages=[])
    assert len(server.requests) == 1
    assert len(telemetry.finished()) == 1


def test_a_throttled_attempt_retried_by_botocore_is_one_span_priced_once(
    server: FakeBedrock, telemetry: Telemetry
) -> None:
    retrying = bedrock_client(server, attempts=2)
    server.answer({"message": "Too many requests"}, status=429, **{"x-amzn-ErrorType": "ThrottlingException"})
    server.answer(fixture("bedrock_converse_cache.json"))

    retrying.converse(modelId=HAIKU_35, messages=[])

    assert len(server.requests) == 2
    attributes = telemetry.one_span().attributes or {}
    assert "error.type" not in attributes
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.00426432, rel=1e-9)  # as in the first test


def test_stubbed_client(telemetry: Telemetry) -> None:
    stubbed = boto3.client(
        "bedrock-runtime", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x"
    )
    with Stubber(stubbed) as stubber:
        stubber.add_response(
            "converse",
            json.loads(fixture("bedrock_converse_cache.json")),
            {"modelId": f"eu.{HAIKU_35}", "messages": []},
        )
        stubbed.converse(modelId=f"eu.{HAIKU_35}", messages=[])
    attributes = telemetry.one_span().attributes or {}
    assert (attributes["server.address"], attributes["server.port"]) == ("bedrock-runtime.eu-west-1.amazonaws.com", 443)
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(0.00426432, rel=1e-9)  # as in the first test


APP = """
import boto3
from otel_ai_cost import tags

client = boto3.client(
    "bedrock-runtime", region_name="us-east-1", endpoint_url="{endpoint}",
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
)
with tags(team="legal", feature="contracts"):
    client.converse(modelId="{model}", messages=[])
"""


def test_boto3_imported_after_opentelemetry_instrument(server: FakeBedrock, tmp_path: Path) -> None:
    """The entry point instruments before the app imports boto3: the post-import hook wraps botocore."""
    bin_dir = Path(sys.executable).parent
    app = tmp_path / "app.py"
    app.write_text(APP.format(endpoint=f"http://127.0.0.1:{server.server_address[1]}", model=HAIKU_35))
    server.answer(fixture("bedrock_converse_cache.json"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AWS_"))}
    env.update(
        OTEL_TRACES_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRICS_EXPORTER="ai_cost_summary",
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
    )
    result = subprocess.run(
        [str(bin_dir / "opentelemetry-instrument"), sys.executable, str(app)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    # 0.00426432 as in the first test
    assert any(
        line.split()[:3] == ["legal", "contracts", HAIKU_35] and "$0.004264" in line
        for line in result.stdout.splitlines()
    ), result.stdout
