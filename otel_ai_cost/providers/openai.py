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

From the request only `model`, `stream`, `stream_options.include_usage`, `n`, `size`, `quality`
and `service_tier` are read. In a stream only the events that can carry usage are parsed: the
chunks whose `usage` is an object or that have a `finish_reason` (plus the first chunks, for the
model and id), the Responses API's `response.completed` / `response.incomplete` /
`response.failed`, and gpt-image-1's `image_generation.completed` / `image_edit.completed`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import obj, text, tokens
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.providers.multipart import form_fields
from otel_ai_cost.providers.sse import MAX_EVENT_BYTES, SSEEvent, SSEReader
from otel_ai_cost.usage import Operation, ServiceTier, Usage

OPENAI = "openai"
AZURE_OPENAI = "azure.ai.openai"

_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("/chat/completions", Operation.CHAT),
    ("/completions", Operation.TEXT_COMPLETION),
    ("/responses", Operation.CHAT),
    ("/embeddings", Operation.EMBEDDINGS),
    ("/images/generations", Operation.IMAGE_GENERATION),
    ("/images/edits", Operation.IMAGE_EDIT),
    ("/images/variations", Operation.IMAGE_EDIT),
)
_IMAGE_OPERATIONS = frozenset({Operation.IMAGE_GENERATION, Operation.IMAGE_EDIT})
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

_TIERS = {"flex": ServiceTier.FLEX, "priority": ServiceTier.PRIORITY, "batch": ServiceTier.BATCH}
"""Everything else ("default", "auto", "scale", unknown) is the default tier."""

_FINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_IMAGE_DONE_EVENTS = frozenset({"image_generation.completed", "image_edit.completed"})
_USAGE_EVENTS = _FINAL_RESPONSE_EVENTS | _IMAGE_DONE_EVENTS
_META_ATTEMPTS = 3
"""Chunks parsed for the model and id before giving up (Azure's first chunk has neither)."""

_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
_FINISH_REASON = re.compile(rb'"finish_reason"\s*:\s*"')
"""Chunks worth parsing: a usage object, or a finish reason that is not null. (Keys inside JSON
strings are escaped, \\", so content that mentions them does not match.)"""
_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_STATUS_REASONS = {"completed": "stop", "failed": "error"}
_DECODER = json.JSONDecoder()
_STRING_FIELD = {
    key: re.compile(rb'"' + key.encode() + rb'"\s*:\s*"([^"\\]{1,256})"')
    for key in ("id", "model", "size", "quality", "status", "reason", "service_tier")
}


def operation_of(path: str) -> str | None:
    """The operation a POST to `path` performs, or None when it is not a billable one."""
    path = _bare(path)
    for suffix, operation in _OPERATIONS:
        if path.endswith(suffix):
            return operation
    return None


class OpenAIProtocol:
    """OpenAI's REST API as spoken by api.openai.com and by OpenAI-compatible servers."""

    def __init__(self, provider: str = OPENAI) -> None:
        self.provider = provider
        self._api_defaults = provider == OPENAI
        """Fill in the model api.openai.com uses when an image request names none."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r})"

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        if method != "POST" and method.upper() != "POST":
            return None
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
            tier = fields.get("service_tier")
            if isinstance(tier, str):
                facts.service_tier = _TIERS.get(tier, ServiceTier.DEFAULT)
        facts.request_model = text(fields.get("model"))
        facts.deployment = self._deployment(path, facts.request_model)
        if operation in _IMAGE_OPERATIONS:
            facts.image_count = _json.count(fields.get("n"), 1)
            facts.image_size = text(fields.get("size"))
            facts.image_quality = text(fields.get("quality"))
            if facts.request_model is None and self._api_defaults:
                facts.request_model = _default_image_model(path, fields)
            _image_defaults(facts)
        return facts

    def _deployment(self, path: str, model: str | None) -> str | None:
        return None

    def parse_response(self, facts: RequestFacts, body: bytes) -> ParsedResponse:
        data = _json.load(body)
        if data is None:
            if _looks_like_sse(body):
                parser = self.stream_parser(facts)
                parser.feed(body)
                return parser.finish()
            return _Result(facts).build()
        result = _Result(facts)
        result.meta(data)
        usage = obj(data.get("usage"))
        if usage is not None:
            result.usages.append(usage)
        choices = data.get("choices")
        if choices is None:
            result.status(data)  # the Responses API: no choices, a status
        else:
            result.choices(choices)
        if facts.operation in _IMAGE_OPERATIONS:
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

    def __init__(self, provider: str = AZURE_OPENAI) -> None:
        super().__init__(provider)
        self._api_defaults = False

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


class OpenAIStreamParser:
    """Usage from the SSE stream of an OpenAI-style response, fed in chunks of any size."""

    def __init__(self, facts: RequestFacts, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._sse = SSEReader(max_event_bytes)
        self._result = _Result(facts)
        self._meta_attempts = _META_ATTEMPTS
        self._typed_stream = False
        """The first event parsed had a `type` (Responses or image events): sniff for their final events."""
        self._closed = False

    def feed(self, chunk: bytes) -> None:
        if self._closed:
            return
        for event in self._sse.feed(chunk):
            self._event(event)

    def finish(self) -> ParsedResponse:
        if not self._closed:
            self._closed = True
            for event in self._sse.close():
                self._event(event)
        return self._result.build()

    def _event(self, event: SSEEvent) -> None:
        name, raw = event.event, event.data
        if name in _USAGE_EVENTS:
            self._typed_event(name, raw, event.truncated)
            return
        if name.startswith(("response.", "image_")):
            return  # deltas and lifecycle events of the Responses and image APIs: no usage
        if event.truncated:
            if _sniff_usage_event(raw):
                self._typed_event(name, raw, True)
            return
        if raw.startswith(b"[DONE]"):
            return
        if self._meta_attempts <= 0:
            if self._typed_stream:  # Responses or image events without `event:` lines (a proxy)
                if not _sniff_usage_event(raw):
                    return
            elif _USAGE_OBJECT.search(raw) is None and _FINISH_REASON.search(raw) is None:
                return  # a content delta
        data = _json.load(raw)
        if data is None:
            return
        kind = data.get("type")
        if isinstance(kind, str) and kind.startswith(("response.", "image_")):
            self._typed_stream = True
            self._meta_attempts = 0
            self._typed(kind, data)
            return
        result = self._result
        result.meta(data)
        self._meta_attempts = 0 if result.model is not None else self._meta_attempts - 1
        usage = obj(data.get("usage"))
        if usage is not None:
            result.usages[:] = [usage]  # vLLM's continuous usage stats repeat it, cumulative
        result.choices(data.get("choices"))

    def _typed_event(self, name: str, raw: bytes, truncated: bool) -> None:
        """A Responses or image event that can carry usage; `name` is its `event:` (or "message")."""
        if truncated:
            self._salvage(name, raw)
            return
        data = _json.load(raw)
        if data is not None:
            kind = data.get("type")
            self._typed(kind if isinstance(kind, str) else name, data)

    def _typed(self, kind: str, data: dict[str, Any]) -> None:
        result = self._result
        if kind in _FINAL_RESPONSE_EVENTS:
            response = obj(data.get("response"))
            if response is not None:
                result.meta(response)
                usage = obj(response.get("usage"))
                if usage is not None:
                    result.usages[:] = [usage]
                result.status(response)
        elif kind in _IMAGE_DONE_EVENTS:
            result.images += 1
            usage = obj(data.get("usage"))
            if usage is not None:
                result.usages.append(usage)
            result.image_facts(data)
        elif kind.startswith("response."):
            response = obj(data.get("response"))
            if response is not None:
                result.meta(response)

    def _salvage(self, name: str, raw: bytes) -> None:
        """Usage from the head and tail of an event too large to keep whole (see `sse`)."""
        head = raw[:256]
        result = self._result
        usage = _last_object(raw, b'"usage"')
        if name in _IMAGE_DONE_EVENTS or b"image_generation.completed" in head or b"image_edit.completed" in head:
            result.images += 1
            if usage is not None:
                result.usages.append(usage)
            result.image_facts({key: _last_string(raw, key) for key in ("size", "quality")})
            return
        if name not in _FINAL_RESPONSE_EVENTS and not any(kind.encode() in head for kind in _FINAL_RESPONSE_EVENTS):
            return
        if usage is not None:
            result.usages[:] = [usage]
        result.meta(
            {
                "id": _first_string(raw, "id"),
                "model": _first_string(raw, "model"),
                "service_tier": _last_string(raw, "service_tier"),
            }
        )
        status = _first_string(raw, "status")
        if status is not None:
            result.status({"status": status, "incomplete_details": {"reason": _first_string(raw, "reason")}})


class _Result:
    """What a response (whole or streamed) said, until it is turned into a ParsedResponse."""

    __slots__ = ("facts", "model", "response_id", "tier", "usages", "finish", "images", "size", "quality")

    def __init__(self, facts: RequestFacts) -> None:
        self.facts = facts
        self.model: str | None = None
        self.response_id: str | None = None
        self.tier: str | None = None
        self.usages: list[dict[str, Any]] = []
        self.finish: dict[int, str] = {}
        self.images = 0
        self.size: str | None = None
        self.quality: str | None = None

    def meta(self, data: dict[str, Any]) -> None:
        model = text(data.get("model"))
        if model is not None:
            self.model = model
        response_id = text(data.get("id"))
        if response_id is not None:
            self.response_id = response_id
        tier = data.get("service_tier")
        if isinstance(tier, str):
            self.tier = _TIERS.get(tier, ServiceTier.DEFAULT)

    def choices(self, choices: object) -> None:
        if not isinstance(choices, list):
            return
        for position, choice in enumerate(choices[:128]):
            if isinstance(choice, dict):
                reason = text(choice.get("finish_reason"))
                if reason is not None:
                    index = choice.get("index")
                    key = index if type(index) is int and 0 <= index < 128 else position
                    if key in self.finish or len(self.finish) < 128:
                        self.finish[key] = reason

    def status(self, response: dict[str, Any]) -> None:
        """A Responses API status as a finish reason: stop, length, content_filter, error."""
        status = response.get("status")
        if not isinstance(status, str) or not status or status in ("in_progress", "queued"):
            return
        if status == "incomplete":
            details = obj(response.get("incomplete_details")) or {}
            reason = text(details.get("reason"))
            self.finish = {0: _INCOMPLETE_REASONS.get(reason or "", reason or "incomplete")}
        else:
            self.finish = {0: _STATUS_REASONS.get(status, status[:64])}

    def image_facts(self, data: dict[str, Any]) -> None:
        """gpt-image-1 responses say the size and quality they produced."""
        size, quality = text(data.get("size")), text(data.get("quality"))
        if size is not None and size != "auto":
            self.size = size
        if quality is not None and quality != "auto":
            self.quality = quality

    def build(self) -> ParsedResponse:
        facts = self.facts
        image_operation = facts.operation in _IMAGE_OPERATIONS
        usage = Usage(
            provider=facts.provider,
            operation=facts.operation,
            request_model=facts.request_model,
            response_model=self.model,
            deployment=facts.deployment,
            service_tier=self.tier or facts.service_tier,
        )
        found = False
        for counts in self.usages:
            found = _add_tokens(usage, counts, facts.operation) or found
        if image_operation:
            usage.image_count = self.images
            usage.image_size = self.size if facts.image_size in (None, "auto") and self.size else facts.image_size
            usage.image_quality = (
                self.quality if facts.image_quality in (None, "auto") and self.quality else facts.image_quality
            )
            found = found or self.images > 0
        finish = tuple(self.finish[key] for key in sorted(self.finish))
        return ParsedResponse(usage=usage, response_id=self.response_id, finish_reasons=finish, usage_found=found)


def _add_tokens(usage: Usage, counts: dict[str, Any], operation: str) -> bool:
    """Add one `usage` object (chat, completions, Responses, embeddings or images naming) to `usage`."""
    prompt = tokens(counts.get("prompt_tokens"))
    if prompt is None:
        prompt = tokens(counts.get("input_tokens"))
    completion = tokens(counts.get("completion_tokens"))
    if completion is None:
        completion = tokens(counts.get("output_tokens"))
    if prompt is None and completion is None:
        if operation != Operation.EMBEDDINGS:
            return False
        prompt = tokens(counts.get("total_tokens"))
        if prompt is None:
            return False
    prompt = prompt or 0
    completion = completion or 0
    inputs = obj(counts.get("prompt_tokens_details")) or obj(counts.get("input_tokens_details")) or {}
    outputs = obj(counts.get("completion_tokens_details")) or obj(counts.get("output_tokens_details")) or {}
    usage.input_tokens += prompt
    usage.cache_read_tokens += _part(inputs.get("cached_tokens"), prompt)
    usage.input_audio_tokens += _part(inputs.get("audio_tokens"), prompt)
    usage.input_image_tokens += _part(inputs.get("image_tokens"), prompt)
    usage.output_tokens += completion
    usage.reasoning_tokens += _part(outputs.get("reasoning_tokens"), completion)
    usage.output_audio_tokens += _part(outputs.get("audio_tokens"), completion)
    image_tokens = tokens(outputs.get("image_tokens"))
    if image_tokens is None and operation in _IMAGE_OPERATIONS:
        image_tokens = completion  # gpt-image-1 outputs only image tokens
    usage.output_image_tokens += min(image_tokens or 0, completion)
    return True


def _part(value: object, whole: int) -> int:
    count = tokens(value)
    return 0 if count is None else min(count, whole)


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
    if _bare(path).endswith("/variations"):
        return "dall-e-2"  # the only model variations support
    if any(key in fields for key in _GPT_IMAGE_ONLY) or text(fields.get("quality")) in _GPT_IMAGE_QUALITY:
        return "gpt-image-1"
    return "dall-e-2"


def _bare(path: str) -> str:
    """`path` without its query string and trailing slashes."""
    query = path.find("?")
    if query >= 0:
        path = path[:query]
    return path.rstrip("/")


def _is_multipart(content_type: str | None, body: bytes) -> bool:
    if content_type:
        return content_type[:19].lower().startswith("multipart/")
    return body.startswith(b"--")


def _looks_like_sse(body: bytes) -> bool:
    start = body.lstrip()[:6]
    return start.startswith((b"data:", b"event:", b":"))


def _sniff_usage_event(raw: bytes) -> bool:
    """An unnamed event that may be a usage-carrying Responses or image event."""
    return b'.completed"' in raw or b'"response.incomplete"' in raw or b'"response.failed"' in raw


def _last_object(raw: bytes, key: bytes) -> dict[str, Any] | None:
    """The JSON object that is the value of the last `key` in `raw`, read without parsing the rest."""
    for match in reversed(list(re.finditer(re.escape(key) + rb"\s*:\s*\{", raw))):
        start = match.end() - 1
        try:
            value, _ = _DECODER.raw_decode(raw[start : start + 65536].decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _first_string(raw: bytes, key: str) -> str | None:
    match = _STRING_FIELD[key].search(raw)
    return match.group(1).decode("utf-8", "replace") if match else None


def _last_string(raw: bytes, key: str) -> str | None:
    found = _STRING_FIELD[key].findall(raw)
    return found[-1].decode("utf-8", "replace") if found else None
