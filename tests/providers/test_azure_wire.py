"""Azure OpenAI: deployment paths, the /openai/v1 API, API Management prefixes (fixtures/azure_*)."""

from __future__ import annotations

import pytest
from wire_testkit import assert_every_chunking, facts_for, fixture, parse_stream

from otel_ai_cost.providers.base import ParsedResponse
from otel_ai_cost.providers.openai import AzureOpenAIProtocol
from otel_ai_cost.providers.routing import route
from otel_ai_cost.usage import Usage

HOST = "contoso-eastus2.openai.azure.com"


def azure(host: str, path: str) -> AzureOpenAIProtocol:
    protocol = route(host, path)
    assert isinstance(protocol, AzureOpenAIProtocol), (host, path)
    return protocol


def test_deployment_path() -> None:
    path = "/openai/deployments/prod-chat/chat/completions?api-version=2024-10-21"
    protocol = azure(HOST, path)
    facts = facts_for(protocol, path, {"messages": [{"role": "user", "content": "Where is my order?"}]}, host=HOST)
    assert (facts.provider, facts.operation, facts.deployment, facts.request_model) == (
        "azure.ai.openai",
        "chat",
        "prod-chat",
        None,  # Azure requests name the deployment, not the model
    )

    parsed = protocol.parse_response(facts, fixture("azure_chat_deployment.json"))

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="azure.ai.openai",
            response_model="gpt-4o-2024-11-20",
            deployment="prod-chat",
            input_tokens=1843,
            cache_read_tokens=1664,
            output_tokens=19,
        ),
        response_id="chatcmpl-C5Az3kQ1w2E3r4T5y6U7i8O9p0Asd",
        finish_reasons=("stop",),
    )


def test_v1_path_stream_whose_first_chunk_has_no_model() -> None:
    path = "/openai/v1/chat/completions"
    protocol = azure(HOST, path)
    facts = facts_for(
        protocol,
        path,
        {"model": "mini-eu", "stream": True, "stream_options": {"include_usage": True}, "messages": []},
        host=HOST,
    )
    assert (facts.deployment, facts.request_model, facts.stream_usage_requested) == ("mini-eu", "mini-eu", True)
    stream = fixture("azure_chat_stream_v1.sse")

    parsed = parse_stream(protocol.stream_parser(facts), [stream])

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="azure.ai.openai",
            request_model="mini-eu",
            response_model="gpt-4o-mini-2024-07-18",
            deployment="mini-eu",
            input_tokens=12,
            output_tokens=3,
        ),
        response_id="chatcmpl-C5B15hJk2Lm3Nb4Vc5Xz6As7Df8Gh",
        finish_reasons=("stop",),
    )
    assert_every_chunking(protocol, facts, stream, parsed)


@pytest.mark.parametrize(
    ("host", "path", "deployment", "operation"),
    [
        (HOST, "/openai/deployments/emb-3-small/embeddings?api-version=2024-10-21", "emb-3-small", "embeddings"),
        ("ai-hub.cognitiveservices.azure.com", "/openai/deployments/gpt%204o/chat/completions", "gpt 4o", "chat"),
        ("proj.services.ai.azure.com", "/openai/deployments/o3/responses", "o3", "chat"),
        ("apim-corp.azure-api.net", "/ai/openai/deployments/chat-eu/chat/completions", "chat-eu", "chat"),
        (HOST, "/openai/responses?api-version=2025-04-01-preview", "body-model", "chat"),
        (HOST, "/openai/deployments/legacy/completions", "legacy", "text_completion"),
    ],
)
def test_deployment_and_operation(host: str, path: str, deployment: str, operation: str) -> None:
    protocol = azure(host, path)
    facts = facts_for(protocol, path, {"model": "body-model"}, host=host)
    assert (facts.deployment, facts.operation, facts.provider) == (deployment, operation, "azure.ai.openai")


def test_dall_e_3_deployment_without_model_gets_the_dall_e_3_defaults() -> None:
    path = "/openai/deployments/dall-e-3/images/generations?api-version=2024-10-21"
    protocol = azure(HOST, path)
    facts = facts_for(protocol, path, {"prompt": "a lighthouse", "n": 1}, host=HOST)
    # no model is made up for Azure: the deployment names it
    assert (facts.request_model, facts.deployment, facts.image_size, facts.image_quality) == (
        None,
        "dall-e-3",
        "1024x1024",
        "standard",
    )
    parsed = protocol.parse_response(facts, b'{"created": 1755445300, "data": [{"url": "https://x/y.png"}]}')
    assert parsed.usage.image_count == 1 and parsed.usage.deployment == "dall-e-3"
    assert parsed.usage.model is None  # priced through the deployment


@pytest.mark.parametrize(
    ("host", "path"),
    [
        (HOST, "/openai/deployments?api-version=2022-12-01"),
        ("myaccount.blob.core.windows.net", "/openai/deployments/x/chat/completions"),
    ],
)
def test_not_routed_to_azure_openai(host: str, path: str) -> None:
    protocol = route(host, path)
    assert protocol is None or protocol.parse_request("POST", host, path, "application/json", b"{}") is None
