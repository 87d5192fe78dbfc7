"""Wire-protocol parsers: request and response bytes -> `Usage`. No OpenTelemetry, no httpx.

`route(host, path)` picks the parser of a request (None for anything that is not an AI API);
the parser reads the request (`parse_request`), then the response body (`parse_response`) or
its stream (`stream_parser`). See `base` for the protocols every parser implements. Amazon
Bedrock is read from botocore's parameters and parsed responses instead (`bedrock`, used by the
botocore transport), and over HTTP by `BedrockHTTPProtocol` (`bedrock_http`, with AWS's event
stream framing in `eventstream`); Claude on Vertex AI by `VertexAnthropicProtocol`.
"""

from __future__ import annotations

from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.anthropic_vertex import VertexAnthropicProtocol
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts, StreamParser, WireProtocol
from otel_ai_cost.providers.bedrock_http import BedrockHTTPProtocol
from otel_ai_cost.providers.bfl import BFLProtocol
from otel_ai_cost.providers.gemini import GeminiProtocol
from otel_ai_cost.providers.openai import AzureOpenAIProtocol, OpenAIProtocol
from otel_ai_cost.providers.routing import Router, parse_endpoint_map, route
from otel_ai_cost.providers.stability import StabilityProtocol

__all__ = [
    "AnthropicProtocol",
    "AzureOpenAIProtocol",
    "BFLProtocol",
    "BedrockHTTPProtocol",
    "GeminiProtocol",
    "OpenAIProtocol",
    "ParsedResponse",
    "RequestFacts",
    "Router",
    "StabilityProtocol",
    "StreamParser",
    "VertexAnthropicProtocol",
    "WireProtocol",
    "parse_endpoint_map",
    "route",
]
