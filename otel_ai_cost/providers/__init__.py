"""Wire-protocol parsers: request and response bytes -> `Usage`. No OpenTelemetry, no httpx.

`route(host, path)` picks the parser of a request (None for anything that is not an AI API);
the parser reads the request (`parse_request`), then the response body (`parse_response`) or
its stream (`stream_parser`). See `base` for the protocols every parser implements.
"""

from __future__ import annotations

from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts, StreamParser, WireProtocol
from otel_ai_cost.providers.openai import AzureOpenAIProtocol, OpenAIProtocol
from otel_ai_cost.providers.routing import Router, parse_endpoint_map, route

__all__ = [
    "AnthropicProtocol",
    "AzureOpenAIProtocol",
    "OpenAIProtocol",
    "ParsedResponse",
    "RequestFacts",
    "Router",
    "StreamParser",
    "WireProtocol",
    "parse_endpoint_map",
    "route",
]
