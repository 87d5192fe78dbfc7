"""The OpenAI-style wire protocol: api.openai.com, Azure OpenAI and OpenAI-compatible servers.

The operation comes from the end of the path, so the same parser serves `/v1/chat/completions`,
`/openai/deployments/{name}/chat/completions`, `/openai/v1/chat/completions` and a gateway's
`/any/prefix/v1/chat/completions`:

| path ends with | operation |
|---|---|
| `/chat/completions`, `/responses` | chat |
| `/completions` | text_completion |
| `/embeddings` | embeddings |
| `/images/generations` | image_generation |
| `/images/edits`, `/images/variations` | image_edit (multipart/form-data) |

The Responses API's background mode (`background: true`): the POST's answer is `queued`, with no
usage, and not billable by itself; the response is billed when a GET `.../responses/{id}` (or its
resumed stream) returns it finished with its usage, once per response id (see
`ParsedResponse.billed_once_id`). Other GETs, and fetches of responses that are not finished
background ones, are not billable.

From the request only `model`, `stream`, `stream_options.include_usage`, `n`, `size`, `quality`
and `service_tier` are read (one `json.loads`; for multipart image edits, the form fields
without touching the image parts). Responses: `openai_response`; streams: `openai_stream`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import obj, text
from otel_ai_cost.providers.base import (
    NamedProtocol,
    ParsedResponse,
    RequestFacts,
    bare_path,
    is_post,
    path_after,
)
from otel_ai_cost.providers.multipart import form_fields
from otel_ai_cost.providers.openai_response import IMAGE_OPERATIONS, TIERS, ResponseState
from otel_ai_cost.providers.openai_stream import OpenAIStreamParser
from otel_ai_cost.providers.sse import looks_like_sse
from otel_ai_cost.usage import Operation, ServiceTier

OPENAI = "openai"
AZURE_OPENAI = "azure.ai.openai"
AZURE_AI_INFERENCE = "azure.ai.inference"

_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("/chat/completions", Operation.CHAT),
    ("/completions", Operation.TEXT_COMPLETION),
    ("/responses", Operation.CHAT),
    ("/embeddings", Operation.EMBEDDINGS),
    ("/images/generations", Operation.IMAGE_GENERATION),
    ("/images/edits", Operation.IMAGE_EDIT),
    ("/images/variations", Operation.IMAGE_EDIT),
)
_FORM_FIELDS = frozenset({"model", "n", "size", "quality", "stream"})
_GPT_IMAGE_ONLY = (
    "background",
    "moderation",
    "output_compression",
    "output_format",
    "partial_images",
    "input_fidelity",
)
_GPT_IMAGE_QUALITY = frozenset({"low", "medium", "high", "auto"})


def operation_of(path: str) -> str | None:
    """The operation a POST to `path` performs, or None when it is not a billable one."""
    path = bare_path(path)
    for suffix, operation in _OPERATIONS:
        if path.endswith(suffix):
            return operation
    return None


class OpenAIProtocol(NamedProtocol):
    """OpenAI's REST API as spoken by api.openai.com and by OpenAI-compatible servers."""

    default_provider = OPENAI

    def __init__(self, provider: str | None = None) -> None:
        super().__init__(provider)
        self._api_defaults = self.provider == OPENAI
        """Fill in the model api.openai.com uses when an image request names none."""

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        if not is_post(method):
            return self._retrieval(method, path)
        operation = operation_of(path)
        if operation is None:
            return None
        facts = RequestFacts(provider=self.provider, operation=operation)
        if _is_multipart(content_type, body):
            fields: dict[str, Any] = form_fields(body, content_type, _FORM_FIELDS)
            facts.stream = fields.get("stream") == "true"
        else:
            fields = _json.load(body) or {}
            facts.stream = fields.get("stream") is True
            options = obj(fields.get("stream_options"))
            facts.stream_usage_requested = options is not None and options.get("include_usage") is True
            facts.choices = _json.count(fields.get("n"), 1)
            tier = fields.get("service_tier")
            if isinstance(tier, str):
                facts.service_tier = TIERS.get(tier, ServiceTier.DEFAULT)
        facts.request_model = text(fields.get("model"))
        facts.deployment = self._deployment(path, facts.request_model)
        if operation in IMAGE_OPERATIONS:
            facts.image_count = _json.count(fields.get("n"), 1)
            facts.image_size = text(fields.get("size"))
            facts.image_quality = text(fields.get("quality"))
            if facts.request_model is None and self._api_defaults:
                facts.request_model = _default_image_model(path, fields)
            _image_defaults(facts)
        return facts

    def _retrieval(self, method: str, path: str) -> RequestFacts | None:
        """GET `.../responses/{id}`: a background response fetched, or its stream resumed."""
        if method.upper() != "GET":
            return None
        response_id = path_after(path, "/responses/")
        if not response_id or "/" in response_id:
            return None  # not a response (`.../input_items`, `/responses` itself)
        return RequestFacts(
            provider=self.provider, operation=Operation.CHAT, retrieval=True, response_id=text(unquote(response_id))
        )

    def _deployment(self, path: str, model: str | None) -> str | None:
        return None

    def parse_response(self, facts: RequestFacts, body: bytes) -> ParsedResponse:
        data = _json.load(body)
        if data is None:
            if looks_like_sse(body):
                return self.stream_parser(facts).read_whole(body)
            return ResponseState(facts).build()
        result = ResponseState(facts)
        result.meta(data)
        usage = obj(data.get("usage"))
        if usage is not None:
            result.usages.append(usage)
        choices = data.get("choices")
        if choices is None:
            result.status(data)  # the Responses API: no choices, a status
            result.tool_calls(data)
        else:
            result.choices(choices)
        if facts.operation in IMAGE_OPERATIONS:
            images = data.get("data")
            if isinstance(images, list):
                result.images = len(images)
            result.image_facts(data)
        return result.build()

    def stream_parser(self, facts: RequestFacts) -> OpenAIStreamParser:
        return OpenAIStreamParser(facts)


class AzureOpenAIProtocol(OpenAIProtocol):
    """Azure OpenAI: `/openai/deployments/{deployment}/...` and the `/openai/v1/...` API.

    The deployment comes from the path; on `/openai/v1/...` (and `/openai/responses`) the
    request's `model` names the deployment.
    """

    default_provider = AZURE_OPENAI

    def _deployment(self, path: str, model: str | None) -> str | None:
        marker = path.find("/openai/deployments/")
        if marker < 0:
            return model
        start = marker + len("/openai/deployments/")
        end = path.find("/", start)
        name = path[start:] if end < 0 else path[start:end]
        query = name.find("?")
        if query >= 0:
            name = name[:query]
        if "%" in name:
            name = unquote(name)
        return text(name)


def _image_defaults(facts: RequestFacts) -> None:
    """The API's defaults for a DALL-E request that leaves out size or quality."""
    name = (facts.request_model or facts.deployment or "").lower().replace("_", "-").replace("dalle", "dall-e")
    if name.startswith("dall-e-3"):
        facts.image_size = facts.image_size or "1024x1024"
        facts.image_quality = facts.image_quality or "standard"
    elif name.startswith("dall-e-2"):
        facts.image_size = facts.image_size or "1024x1024"
        facts.image_quality = None  # DALL-E 2 has no quality option


def _default_image_model(path: str, fields: dict[str, Any]) -> str:
    """api.openai.com's default: dall-e-2, unless a gpt-image-1-only parameter is used."""
    if bare_path(path).endswith("/variations"):
        return "dall-e-2"  # the only model variations support
    if any(key in fields for key in _GPT_IMAGE_ONLY) or text(fields.get("quality")) in _GPT_IMAGE_QUALITY:
        return "gpt-image-1"
    return "dall-e-2"


def _is_multipart(content_type: str | None, body: bytes) -> bool:
    if content_type:
        return content_type[:19].lower().startswith("multipart/")
    return body.startswith(b"--")
