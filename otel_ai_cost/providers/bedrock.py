"""Amazon Bedrock Runtime as botocore sees it: Converse, ConverseStream, InvokeModel and
InvokeModelWithResponseStream. Pure functions over botocore's dicts and the body bytes: no
OpenTelemetry, no botocore import.

The transport hands over the operation name and the API parameters (`parse_request`), then
either the parsed response with the InvokeModel body bytes (`BedrockRequest.parse_response`) or a
stream's events one by one (`BedrockRequest.stream_parser`).

Bedrock's own counts (Converse `usage`, the `X-Amzn-Bedrock-*-Token-Count` response headers of
InvokeModel, a stream's `amazon-bedrock-invocationMetrics`) leave the prompt-cache tokens out of
the input count; `Usage.input_tokens` puts them in. InvokeModel bodies are each model vendor's own
format (Anthropic Messages, Amazon Nova and Titan, Meta Llama, Cohere, Mistral, OpenAI-style);
the counts a body reports win, Bedrock's headers or invocation metrics are the fallback for the
bodies that report none (Mistral, Cohere embed, legacy completions).

Image models (Titan Image Generator, Nova Canvas, Stability) are priced per image from the request
alone (count, size, quality), so their large base64 response bodies are never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import count, obj, text, tokens
from otel_ai_cost.providers.anthropic import AnthropicProtocol, AnthropicStreamParser
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.usage import Operation, ServiceTier, Usage

BEDROCK = "aws.bedrock"

CONVERSE = "Converse"
CONVERSE_STREAM = "ConverseStream"
INVOKE_MODEL = "InvokeModel"
INVOKE_MODEL_STREAM = "InvokeModelWithResponseStream"
OPERATIONS = frozenset({CONVERSE, CONVERSE_STREAM, INVOKE_MODEL, INVOKE_MODEL_STREAM})
"""The billable Bedrock Runtime operations this parser reads; others (CountTokens, ApplyGuardrail, ...) are not."""

_TIERS = {"priority": ServiceTier.PRIORITY, "flex": ServiceTier.FLEX}
"""Everything else ("default", "reserved", unknown) is the default tier."""

_REGION_PREFIXES = frozenset({"us", "eu", "apac", "ap", "jp", "au", "ca", "us-gov", "global"})
_DEPLOYMENT_ARNS = ("provisioned-model/", "application-inference-profile/", "custom-model", "imported-model/")
"""ARNs naming a resource of the account, not a catalog model: priced through the overrides' deployments."""

_IMAGE_GENERATION_TASKS = frozenset({"TEXT_IMAGE", "COLOR_GUIDED_GENERATION"})
"""Titan / Nova Canvas task types that make new images; the others (INPAINTING, ...) edit one."""
NOVA_CANVAS_DEFAULT_SIZE = "1024x1024"
"""Nova Canvas documents width and height as defaulting to 1024."""

_HEADER_COUNTS = (
    "x-amzn-bedrock-input-token-count",
    "x-amzn-bedrock-output-token-count",
    "x-amzn-bedrock-cache-read-input-token-count",
    "x-amzn-bedrock-cache-write-input-token-count",
)
_METRIC_COUNTS = ("inputTokenCount", "outputTokenCount", "cacheReadInputTokenCount", "cacheWriteInputTokenCount")
_INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"

# Stream chunks worth a json.loads: those that can carry counts or the stop reason.
_CHUNK_MARKERS = (
    b"invocationMetrics",
    b"usage",
    b"token_count",
    b"TokenCount",
    b"billed_units",
    b"stop_reason",
    b"stopReason",
    b"completionReason",
    b"finish_reason",
)
_ANTHROPIC_EVENTS = (b'"message_start"', b'"message_delta"')


class _Family:
    """How an InvokeModel body reports usage."""

    ANTHROPIC = "anthropic"
    IMAGE = "image"
    OTHER = "other"


def parse_request(operation: str, params: Mapping[str, Any]) -> BedrockRequest | None:
    """The request's facts, or None when the operation is not a billable model invocation."""
    if operation not in OPERATIONS:
        return None
    model_id = text(params.get("modelId"))
    facts = RequestFacts(
        provider=BEDROCK,
        operation=Operation.CHAT,
        request_model=model_id,
        stream=operation in (CONVERSE_STREAM, INVOKE_MODEL_STREAM),
    )
    if model_id is not None and model_id.startswith("arn:") and any(kind in model_id for kind in _DEPLOYMENT_ARNS):
        facts.deployment = model_id
    if operation in (CONVERSE, CONVERSE_STREAM):
        facts.service_tier = _tier((obj(params.get("serviceTier")) or {}).get("type"))
        facts.stream_usage_requested = facts.stream
        return BedrockRequest(facts, converse=True, family=_Family.OTHER)
    facts.service_tier = _tier(params.get("serviceTier"))
    body = _request_json(params.get("body"))
    family = _classify(facts, _model_name(model_id), body)
    facts.stream_usage_requested = facts.stream and family != _Family.IMAGE
    return BedrockRequest(facts, converse=False, family=family)


class BedrockRequest:
    """One Bedrock Runtime call: its facts, and how to read its response."""

    __slots__ = ("facts", "converse", "family")

    def __init__(self, facts: RequestFacts, *, converse: bool, family: str) -> None:
        self.facts = facts
        self.converse = converse
        self.family = family

    def __repr__(self) -> str:
        return f"BedrockRequest(model={self.facts.request_model!r}, converse={self.converse}, family={self.family!r})"

    @property
    def reads_body(self) -> bool:
        """Whether the InvokeModel response body is worth reading (an image's is not)."""
        return not self.converse and self.family != _Family.IMAGE

    def parse_response(self, response: Mapping[str, Any], body: bytes | None) -> ParsedResponse:
        """A whole response: botocore's parsed dict, and for InvokeModel the body bytes (None if unread)."""
        facts = self.facts
        if self.family == _Family.IMAGE:
            return ParsedResponse(facts.usage(), usage_found=False)
        if self.converse:
            converse = _Reading()
            converse.read_converse_usage(obj(response.get("usage")))
            converse.stop_reason = text(response.get("stopReason"))
            converse.tier = _tier((obj(response.get("serviceTier")) or {}).get("type"))
            return converse.build(facts)
        tier = _tier(response.get("serviceTier"))
        from_headers = _Reading()
        from_headers.read_counts(_headers(response), _HEADER_COUNTS)
        from_headers.tier = tier
        if self.family == _Family.ANTHROPIC:
            return _anthropic_or(facts, _ANTHROPIC_ON_BEDROCK.parse_response(facts, body or b""), from_headers, tier)
        from_body = _Reading()
        data = _json.load(body) if body else None
        if data is not None:
            from_body.read_body(data)
        from_body.tier = tier
        return from_body.or_fallback(from_headers).build(facts)

    def stream_parser(self) -> BedrockStreamParser:
        return BedrockStreamParser(self)


class BedrockStreamParser:
    """Fed the events of a ConverseStream or InvokeModelWithResponseStream as botocore parses them."""

    def __init__(self, request: BedrockRequest) -> None:
        self._request = request
        self._reading = _Reading()
        self._metrics = _Reading()
        facts = request.facts
        self._anthropic = AnthropicStreamParser(facts) if request.family == _Family.ANTHROPIC else None

    def feed(self, event: Mapping[str, Any]) -> None:
        if self._request.converse:
            self._converse_event(event)
            return
        chunk = obj(event.get("chunk"))
        raw = chunk.get("bytes") if chunk is not None else None
        if isinstance(raw, bytes | bytearray):
            self._invoke_chunk(bytes(raw))

    def finish(self) -> ParsedResponse:
        facts = self._request.facts
        if self._request.family == _Family.IMAGE:
            return ParsedResponse(facts.usage(), usage_found=False)
        if self._anthropic is not None:
            return _anthropic_or(facts, self._anthropic.finish(), self._metrics, None)
        return self._reading.or_fallback(self._metrics).build(facts)

    def _converse_event(self, event: Mapping[str, Any]) -> None:
        metadata = obj(event.get("metadata"))
        if metadata is not None:
            self._reading.read_converse_usage(obj(metadata.get("usage")))
            tier = (obj(metadata.get("serviceTier")) or {}).get("type")
            if tier is not None:
                self._reading.tier = _tier(tier)
            return
        stop = obj(event.get("messageStop"))
        if stop is not None:
            self._reading.stop_reason = text(stop.get("stopReason")) or self._reading.stop_reason

    def _invoke_chunk(self, raw: bytes) -> None:
        anthropic = self._anthropic
        if anthropic is not None:
            if any(kind in raw for kind in _ANTHROPIC_EVENTS):
                # The chunk is one Anthropic stream event as JSON: hand it over as one SSE event.
                anthropic.feed(b"data: " + b" ".join(raw.splitlines()) + b"\n\n")
            if b"invocationMetrics" not in raw:
                return
        elif not any(marker in raw for marker in _CHUNK_MARKERS):
            return
        data = _json.load(raw)
        if data is None:
            return
        metrics = obj(data.get(_INVOCATION_METRICS))
        if metrics is not None:
            self._metrics.read_counts(metrics, _METRIC_COUNTS)
        if anthropic is None:
            self._reading.read_body(data)


class _Reading:
    """Counts and response facts as one source reported them; the latest non-null value wins.

    `input` follows Bedrock's convention (prompt-cache tokens left out) unless `input_inclusive`.
    """

    __slots__ = (
        "input",
        "output",
        "cache_read",
        "cache_write",
        "cache_write_1h",
        "input_inclusive",
        "found",
        "stop_reason",
        "response_id",
        "tier",
    )

    def __init__(self) -> None:
        self.input = 0
        self.output = 0
        self.cache_read = 0
        self.cache_write = 0
        self.cache_write_1h = 0
        self.input_inclusive = False
        self.found = False
        self.stop_reason: str | None = None
        self.response_id: str | None = None
        self.tier: str | None = None

    def _set(self, name: str, value: object) -> None:
        number = tokens(value)
        if number is not None:
            setattr(self, name, number)
            self.found = True

    def read_counts(self, source: Mapping[str, Any], keys: tuple[str, str, str, str]) -> None:
        """Input, output, cache read and cache write counts under `keys` (headers or invocation metrics)."""
        for name, key in zip(("input", "output", "cache_read", "cache_write"), keys, strict=True):
            value = source.get(key)
            if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
                value = int(value)
            self._set(name, value)

    def read_converse_usage(self, usage: Mapping[str, Any] | None) -> None:
        """Bedrock's TokenUsage (Converse, ConverseStream metadata, Amazon Nova bodies)."""
        if usage is None:
            return
        self._set("input", usage.get("inputTokens"))
        self._set("output", usage.get("outputTokens"))
        self._set("cache_read", usage.get("cacheReadInputTokens", usage.get("cacheReadInputTokenCount")))
        self._set("cache_write", usage.get("cacheWriteInputTokens", usage.get("cacheWriteInputTokenCount")))
        details = usage.get("cacheDetails")
        if isinstance(details, list):
            self.cache_write_1h = sum(
                tokens(detail.get("inputTokens")) or 0
                for detail in details
                if isinstance(detail, dict) and detail.get("ttl") == "1h"
            )

    def read_body(self, data: Mapping[str, Any]) -> None:
        """An InvokeModel body (or stream chunk) of any vendor but Anthropic."""
        usage = obj(data.get("usage"))
        metadata = obj(data.get("metadata"))
        if usage is None and metadata is not None:
            usage = obj(metadata.get("usage"))  # Amazon Nova stream
        if usage is not None:
            if "prompt_tokens" in usage or "completion_tokens" in usage:  # OpenAI-style (gpt-oss, Mistral, Jamba)
                self._set("input", usage.get("prompt_tokens"))
                self._set("output", usage.get("completion_tokens"))
                self.input_inclusive = True
            else:
                self.read_converse_usage(usage)
        self._set("input", data.get("prompt_token_count"))  # Meta Llama
        self._set("output", data.get("generation_token_count"))
        self._set("input", data.get("inputTextTokenCount"))  # Amazon Titan text and embeddings
        self._set("output", data.get("totalOutputTextTokenCount"))  # Titan stream chunks
        results = data.get("results")
        if isinstance(results, list):
            outputs = [tokens(r.get("tokenCount")) for r in results if isinstance(r, dict)]
            if any(n is not None for n in outputs):
                self._set("output", sum(n or 0 for n in outputs))
            self._stop(_first(results, "completionReason"))
        billed = obj((obj(data.get("meta")) or {}).get("billed_units"))  # Cohere
        if billed is not None:
            self._set("input", billed.get("input_tokens"))
            self._set("output", billed.get("output_tokens"))
        self._stop(data.get("stopReason"))
        self._stop(data.get("stop_reason"))
        self._stop(data.get("finish_reason"))
        self._stop((obj(data.get("messageStop")) or {}).get("stopReason"))
        for key in ("outputs", "choices", "generations"):  # Mistral, OpenAI-style, Cohere legacy
            listed = data.get(key)
            if isinstance(listed, list):
                self._stop(_first(listed, "stop_reason") or _first(listed, "finish_reason"))
        response_id = text(data.get("response_id")) or text(data.get("id"))
        if response_id is not None:
            self.response_id = response_id

    def _stop(self, value: object) -> None:
        reason = text(value)
        if reason is not None:
            self.stop_reason = reason

    def or_fallback(self, fallback: _Reading) -> _Reading:
        """This reading when it found counts, else the fallback's counts with this reading's response facts."""
        if self.found or not fallback.found:
            return self
        fallback.stop_reason = self.stop_reason or fallback.stop_reason
        fallback.response_id = self.response_id or fallback.response_id
        fallback.tier = self.tier or fallback.tier
        return fallback

    def build(self, facts: RequestFacts) -> ParsedResponse:
        written = self.cache_write
        written_1h = min(self.cache_write_1h, written)
        cached = self.cache_read + written
        usage = Usage(
            provider=facts.provider,
            operation=facts.operation,
            request_model=facts.request_model,
            input_tokens=max(self.input, cached) if self.input_inclusive else self.input + cached,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=written - written_1h,
            cache_write_1h_tokens=written_1h,
            output_tokens=self.output,
            service_tier=self.tier or facts.service_tier,
            deployment=facts.deployment,
        )
        finish = (self.stop_reason,) if self.stop_reason is not None else ()
        return ParsedResponse(usage, response_id=self.response_id, finish_reasons=finish, usage_found=self.found)


_ANTHROPIC_ON_BEDROCK = AnthropicProtocol(BEDROCK)


def _anthropic_or(facts: RequestFacts, parsed: ParsedResponse, fallback: _Reading, tier: str | None) -> ParsedResponse:
    """An Anthropic body's reading, or Bedrock's counts when the body had none.

    The body's `model` is Anthropic's name for the model ("claude-3-5-haiku-20241022"); the
    Bedrock model id asked for (with its inference-profile prefix) is what is billed, so it is
    the one priced.
    """
    if parsed.usage_found or not fallback.found:
        parsed.usage.response_model = None
        if tier is not None:
            parsed.usage.service_tier = tier
        return parsed
    fallback.tier = tier or fallback.tier
    fallback.stop_reason = fallback.stop_reason or (parsed.finish_reasons[0] if parsed.finish_reasons else None)
    fallback.response_id = fallback.response_id or parsed.response_id
    return fallback.build(facts)


def _first(items: list[Any], key: str) -> object:
    first = items[0] if items else None
    return first.get(key) if isinstance(first, dict) else None


def _tier(value: object) -> str:
    return _TIERS.get(value, ServiceTier.DEFAULT) if isinstance(value, str) else ServiceTier.DEFAULT


def _headers(response: Mapping[str, Any]) -> Mapping[str, Any]:
    """The HTTP response headers botocore keeps (lower-case names)."""
    metadata = obj(response.get("ResponseMetadata")) or {}
    return obj(metadata.get("HTTPHeaders")) or {}


def _request_json(body: object) -> dict[str, Any] | None:
    """The InvokeModel request body as JSON; a file-like body is left unread (the caller's stream)."""
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    if isinstance(body, bytes | bytearray):
        return _json.load(bytes(body))
    return None


def _model_name(model_id: str | None) -> str:
    """ "us.amazon.nova-canvas-v1:0" or its ARN -> "amazon.nova-canvas-v1:0" (lower case)."""
    if model_id is None:
        return ""
    name = model_id.lower().rsplit("/", 1)[-1]
    region, dot, rest = name.partition(".")
    if dot and region in _REGION_PREFIXES and "." in rest:
        return rest
    return name


def _classify(facts: RequestFacts, name: str, body: dict[str, Any] | None) -> str:
    """Set the operation (and an image request's count, size, quality) and say how the response reports usage."""
    vendor = name.partition(".")[0] if "." in name else ""
    if body is None:
        if "embed" in name:
            facts.operation = Operation.EMBEDDINGS
        return _Family.ANTHROPIC if vendor == "anthropic" else _Family.OTHER
    if "taskType" in body or "imageGenerationConfig" in body:
        _titan_or_nova_image(facts, name, body)
        return _Family.IMAGE
    if vendor == "stability":
        _stability_image(facts, body)
        return _Family.IMAGE
    if "messages" in body or "message" in body:
        return _Family.ANTHROPIC if vendor == "anthropic" or "anthropic_version" in body else _Family.OTHER
    if "embed" in name or "texts" in body:
        facts.operation = Operation.EMBEDDINGS
    elif "prompt" in body or "inputText" in body:
        facts.operation = Operation.TEXT_COMPLETION
    return _Family.OTHER


def _titan_or_nova_image(facts: RequestFacts, name: str, body: dict[str, Any]) -> None:
    task = text(body.get("taskType")) or "TEXT_IMAGE"
    facts.operation = Operation.IMAGE_GENERATION if task in _IMAGE_GENERATION_TASKS else Operation.IMAGE_EDIT
    config = obj(body.get("imageGenerationConfig")) or {}
    facts.image_count = count(config.get("numberOfImages"), 1)
    width, height = count(config.get("width"), 0), count(config.get("height"), 0)
    if width and height:
        facts.image_size = f"{width}x{height}"
    elif "nova-canvas" in name and facts.operation == Operation.IMAGE_GENERATION:
        facts.image_size = NOVA_CANVAS_DEFAULT_SIZE
    quality = text(config.get("quality"))
    facts.image_quality = quality.lower() if quality else "standard"


def _stability_image(facts: RequestFacts, body: dict[str, Any]) -> None:
    edit = "image" in body or body.get("mode") == "image-to-image" or "init_image" in body
    facts.operation = Operation.IMAGE_EDIT if edit else Operation.IMAGE_GENERATION
    facts.image_count = count(body.get("samples"), 1)  # SDXL's `samples`; the Stable Image models make one
    width, height = count(body.get("width"), 0), count(body.get("height"), 0)
    if width and height:
        facts.image_size = f"{width}x{height}"
