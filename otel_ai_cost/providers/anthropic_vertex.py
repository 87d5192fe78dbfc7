"""Claude on Vertex AI: the Anthropic Messages protocol under Vertex AI's paths.

The anthropic SDK's `AnthropicVertex` posts the Messages body (with `anthropic_version:
vertex-2023-10-16` and without `model`) to
`/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict`, or
`:streamRawPredict` for a stream (Anthropic's SSE). The model comes from the path
(`claude-sonnet-4-5@20250929`); the response is read by the Anthropic parser.
`count-tokens:rawPredict` is not billable.
"""

from __future__ import annotations

from otel_ai_cost.providers import _json
from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.base import RequestFacts, is_post
from otel_ai_cost.providers.gemini import VERTEX_AI, model_and_method
from otel_ai_cost.usage import Operation

_METHODS = {"rawPredict": False, "streamRawPredict": True}
_NOT_MODELS = frozenset({"count-tokens"})


def is_anthropic_publisher(path: str) -> bool:
    """A Vertex AI path under `publishers/anthropic/` (Claude), not Google's own models."""
    return "/publishers/anthropic/" in path


class VertexAnthropicProtocol(AnthropicProtocol):
    default_provider = VERTEX_AI

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        if not is_post(method):
            return None
        found = model_and_method(path)
        if found is None:
            return None
        model, api_method = found
        streamed = _METHODS.get(api_method)
        if streamed is None or model is None or model in _NOT_MODELS:
            return None
        facts = RequestFacts(provider=self.provider, operation=Operation.CHAT, request_model=model)
        fields = _json.load(body)
        facts.stream = streamed or (fields is not None and fields.get("stream") is True)
        facts.stream_usage_requested = facts.stream  # an Anthropic stream always reports usage
        return facts
