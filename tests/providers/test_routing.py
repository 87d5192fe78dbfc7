"""Routing by host and path, endpoint maps (OTEL_AI_COST_ENDPOINTS), and how fast a miss is."""

from __future__ import annotations

import time

import pytest

from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.openai import OpenAIProtocol
from otel_ai_cost.providers.routing import Router, parse_endpoint, parse_endpoint_map, route


def kind(protocol: object) -> tuple[str, str] | None:
    if protocol is None:
        return None
    assert isinstance(protocol, OpenAIProtocol | AnthropicProtocol)
    return type(protocol).__name__, protocol.provider


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("api.openai.com", "/v1/chat/completions", ("OpenAIProtocol", "openai")),
        ("API.OpenAI.com", "/v1/responses", ("OpenAIProtocol", "openai")),
        ("api.openai.com", "/v1/models", ("OpenAIProtocol", "openai")),  # the parser says it is not billable
        ("api.openai.com", "/healthz", None),
        ("api.anthropic.com", "/v1/messages", ("AnthropicProtocol", "anthropic")),
        (
            "contoso.openai.azure.com",
            "/openai/deployments/x/chat/completions",
            ("AzureOpenAIProtocol", "azure.ai.openai"),
        ),
        ("contoso.openai.azure.com", "/openai/v1/embeddings", ("AzureOpenAIProtocol", "azure.ai.openai")),
        (
            "hub.cognitiveservices.azure.com",
            "/openai/deployments/x/embeddings",
            ("AzureOpenAIProtocol", "azure.ai.openai"),
        ),
        ("proj.services.ai.azure.com", "/openai/v1/responses", ("AzureOpenAIProtocol", "azure.ai.openai")),
        (
            "proj.services.ai.azure.com",
            "/models/chat/completions?api-version=2024-05-01-preview",
            ("AzureOpenAIProtocol", "azure.ai.inference"),
        ),
        ("proj.services.ai.azure.com", "/models/embeddings", ("AzureOpenAIProtocol", "azure.ai.inference")),
        ("proj.services.ai.azure.com", "/agents/v1.0/threads", None),
        (
            "apim.azure-api.net",
            "/team-a/openai/deployments/x/chat/completions",
            ("AzureOpenAIProtocol", "azure.ai.openai"),
        ),
        ("contoso.openai.azure.com", "/language/:analyze-text", None),
        ("example.com", "/v1/chat/completions", None),
        ("openai.com.evil.example", "/v1/chat/completions", None),
        ("notopenai.azure.com", "/openai/v1/chat/completions", None),
        ("localhost", "/", None),
        ("", "", None),
    ],
)
def test_builtin_routes(host: str, path: str, expected: tuple[str, str] | None) -> None:
    assert kind(route(host, path)) == expected


ENDPOINTS = parse_endpoint_map(
    "http://127.0.0.1:8080/v1=openai:vllm, https://gw.corp/anthropic=anthropic,"
    "https://gw.corp/openai=openai:litellm, gateway.internal:443=azure, http://[::1]:11434=openai:ollama"
)


def test_parse_endpoint_map() -> None:
    assert ENDPOINTS == {
        "http://127.0.0.1:8080/v1": "openai:vllm",
        "https://gw.corp/anthropic": "anthropic",
        "https://gw.corp/openai": "openai:litellm",
        "gateway.internal:443": "azure",
        "http://[::1]:11434": "openai:ollama",
    }
    assert parse_endpoint_map("") == {} and parse_endpoint_map(" , ") == {}


@pytest.mark.parametrize(
    ("host", "path", "port", "expected"),
    [
        ("127.0.0.1", "/v1/chat/completions", 8080, ("OpenAIProtocol", "vllm")),
        ("127.0.0.1:8080", "/v1/chat/completions", None, ("OpenAIProtocol", "vllm")),
        ("127.0.0.1", "/v1/chat/completions", None, ("OpenAIProtocol", "vllm")),  # port not known: host decides
        ("127.0.0.1", "/v1/chat/completions", 9090, None),  # another server on the same host
        ("127.0.0.1", "/v2/chat/completions", 8080, None),  # outside the base path
        ("127.0.0.1", "/v1", 8080, ("OpenAIProtocol", "vllm")),
        ("127.0.0.1", "/v1x/chat/completions", 8080, None),  # a prefix ends at a path segment
        ("gw.corp", "/anthropic/v1/messages", None, ("AnthropicProtocol", "anthropic")),
        ("gw.corp", "/openai/v1/chat/completions", 8443, ("OpenAIProtocol", "litellm")),
        ("gw.corp", "/other/v1/chat/completions", None, None),
        (
            "gateway.internal",
            "/openai/deployments/d/chat/completions",
            None,
            ("AzureOpenAIProtocol", "azure.ai.openai"),
        ),
        ("::1", "/v1/chat/completions", 11434, ("OpenAIProtocol", "ollama")),
        ("api.openai.com", "/v1/chat/completions", None, ("OpenAIProtocol", "openai")),  # built-ins still apply
    ],
)
def test_endpoint_map_routes(host: str, path: str, port: int | None, expected: tuple[str, str] | None) -> None:
    assert kind(route(host, path, ENDPOINTS, port=port)) == expected
    assert kind(Router(ENDPOINTS).route(host, path, port)) == expected


def test_endpoint_parsed_with_the_provider_name() -> None:
    protocol = route("127.0.0.1", "/v1/chat/completions", ENDPOINTS, port=8080)
    assert protocol is not None
    facts = protocol.parse_request("POST", "127.0.0.1", "/v1/chat/completions", "application/json", b'{"model":"m"}')
    assert facts is not None and (facts.provider, facts.request_model) == ("vllm", "m")


def test_longest_base_path_wins_and_endpoint_beats_builtin() -> None:
    endpoints = {"https://api.openai.com": "openai:corp-openai", "https://api.openai.com/v1/special": "anthropic"}
    assert kind(route("api.openai.com", "/v1/chat/completions", endpoints)) == ("OpenAIProtocol", "corp-openai")
    assert kind(route("api.openai.com", "/v1/special/v1/messages", endpoints)) == ("AnthropicProtocol", "anthropic")


def test_a_changed_mapping_is_compiled_again() -> None:
    endpoints = {"http://10.0.0.5:8000": "openai:vllm"}
    assert kind(route("10.0.0.5", "/v1/completions", endpoints)) == ("OpenAIProtocol", "vllm")
    endpoints["http://10.0.0.5:8000"] = "openai:tgi"
    assert kind(route("10.0.0.5", "/v1/completions", endpoints)) == ("OpenAIProtocol", "tgi")


def test_route_ignores_invalid_entries_instead_of_raising() -> None:
    endpoints = {"ftp://x": "openai", "http://ok.local": "openai:ok", "http://bad.local": "grpc"}
    assert kind(route("ok.local", "/v1/chat/completions", endpoints)) == ("OpenAIProtocol", "ok")
    assert route("bad.local", "/v1/chat/completions", endpoints) is None
    with pytest.raises(ValueError, match="endpoint 'ftp://x'='openai': URL scheme 'ftp'"):
        Router(endpoints)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("http://127.0.0.1:8080/v1", "'http://127.0.0.1:8080/v1'"),  # no =PROTOCOL
        ("=openai", "'=openai'"),
        ("http://127.0.0.1:8080/v1=grpc", "unknown protocol 'grpc'"),
        ("http://127.0.0.1:8080/v1=openai:", "provider name ''"),
        ("http://127.0.0.1:8080/v1=openai:my provider", "provider name 'my provider'"),
        ("ftp://files.corp=openai", "scheme 'ftp'"),
        ("http://127.0.0.1:99999/v1=openai", "is not valid"),
        ("http://127.0.0.1:port/v1=openai", "is not valid"),
        ("http://:8080/v1=openai", "'http://:8080/v1'"),
        ("https://gw.corp/v1?key=1=openai", "no query"),
        ("https://user:pw@gw.corp=openai", "credentials"),
    ],
)
def test_parse_endpoint_map_names_the_bad_entry(text: str, named: str) -> None:
    good = "https://gw.corp/anthropic=anthropic"
    with pytest.raises(ValueError) as raised:
        parse_endpoint_map(f"{good}, {text}")
    message = str(raised.value)
    assert message.startswith("OTEL_AI_COST_ENDPOINTS: entry ")
    assert named in message and "gw.corp/anthropic" not in message


@pytest.mark.parametrize(
    "text",
    [
        "https://svc:sk-CANARY-key@gw.corp/v1=openai",
        "svc:sk-CANARY-key@gw.corp/v1=openai",
        "https://gw.corp/v1?key=AIzaCANARY=gemini",
        "https://gw.corp/v1#CANARY=openai",
        "https://svc:sk-CANARY-key@gw.corp:99999/v1=openai",  # not valid for its port, before its user info
    ],
)
def test_a_refused_entry_is_named_without_its_secrets(text: str) -> None:
    """The message is logged (to stderr by default): the credentials that made the entry invalid stay out."""
    with pytest.raises(ValueError) as raised:
        parse_endpoint_map(text)
    assert "CANARY" not in str(raised.value) and "gw.corp" in str(raised.value)


def test_parse_endpoint_details() -> None:
    assert parse_endpoint("https://gw.corp:443/openai/", "OpenAI").port is None
    endpoint = parse_endpoint("HTTP://GW.Corp:8080/openai/", "openai:vllm")
    assert (endpoint.host, endpoint.port, endpoint.prefix, endpoint.protocol, endpoint.provider) == (
        "gw.corp",
        8080,
        "/openai",
        "openai",
        "vllm",
    )


def test_a_miss_is_one_dict_lookup() -> None:
    """Non-AI hosts (most of an application's traffic) must cost next to nothing."""
    route("internal-api.example.com", "/users")
    route("internal-api.example.com", "/users", ENDPOINTS)
    calls = 200_000
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            route("internal-api.example.com", "/users/42")
        best = min(best, (time.perf_counter() - start) / calls)
    # ~0.15 us on the 2-core development machine; the bound leaves room for slow CI runners
    assert best < 2e-6, f"{best * 1e6:.2f} us per call"


def test_host_cache_is_bounded() -> None:
    router = Router()
    for number in range(10_000):
        assert router.route(f"host-{number}.example.com", "/") is None
    assert router.route("api.openai.com", "/v1/embeddings") is not None
    assert len(router._hosts) <= 4096
