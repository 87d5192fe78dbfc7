"""The Gemini wire protocol, spoken alike by the Gemini API (generativelanguage.googleapis.com)
and Vertex AI (`aiplatform.googleapis.com`, `{region}-aiplatform.googleapis.com`).

The model and the method are the last path segment, `{kind}/{id}:{method}`:
`/v1beta/models/gemini-2.5-flash:generateContent`, `/v1beta/tunedModels/{id}:generateContent`,
`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:streamGenerateContent`. A model
that is not under `models/` keeps its kind (`tunedModels/{id}`, `endpoints/{id}`).

| method | operation |
|---|---|
| `generateContent` | generate_content |
| `streamGenerateContent` | generate_content, streamed: SSE with `?alt=sse`, else one JSON array |
| `embedContent`, `batchEmbedContents` | embeddings |
| `predict` on an `imagen-*` model | image_generation (image_edit with an edit mode or upscaling), per image |
| `predict` on an embedding model (Vertex AI) | embeddings |

`countTokens`, `computeTokens` and every other method are not billable. A request body is read
only for Imagen (`parameters.sampleCount`): everything else comes from the path and the response.

`usageMetadata` -> Usage: input = promptTokenCount (which includes cachedContentTokenCount) +
toolUsePromptTokenCount; cache read = cachedContentTokenCount; output = candidatesTokenCount +
thoughtsTokenCount (Gemini bills thinking as output), reasoning = thoughtsTokenCount. The
modality breakdowns give the audio input served from the cache (cacheTokensDetails), the audio,
image and video input not served from it (promptTokensDetails minus cacheTokensDetails), and the
audio, image and video output (candidatesTokensDetails): each priced at the model's rate for that
modality where the catalog has one (e.g. gemini-embedding-2's video input), else at the text rate.
In a stream every chunk may carry usageMetadata and the last one is cumulative: the latest value
of each count wins. A chunk over the SSE reader's cap (one carrying an image's base64, which often
carries the final usage too) is read from the head and tail the reader keeps: its last
`usageMetadata`, finish reasons, grounding, `modelVersion` and `responseId` (see `sse`). A chunk
that is an `{"error": {...}}` (a 503 UNAVAILABLE after some chunks) sets `ParsedResponse.error_type`
to its `status` (else its `code`): the call is recorded as failed, with the usage read before it.
Embedding token counts come from `usageMetadata` (Vertex AI `embedContent`) or
the per-embedding `statistics` (Vertex AI `batchEmbedContents` and `predict`); the Gemini API's
embedding responses carry no usage. Imagen images are counted in `predictions` (those with image
bytes or a Cloud Storage URI; a filtered image is not billed), else taken from the request.

Vertex AI says how it served a request in `usageMetadata.trafficType`: `ON_DEMAND_FLEX` and
`ON_DEMAND_PRIORITY` are the flex and priority tiers, `PROVISIONED_THROUGHPUT` capacity bought up
front (Vertex spills over to on demand request by request, so only the response tells).

Grounding with Google Search (`groundingMetadata.webSearchQueries` of a candidate) is billed per
grounded prompt by Gemini 1.x and 2.x models (one per request that searched) and per search query
by later ones: `Usage.web_search_requests` counts what the model's generation bills.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import last_object, last_string, obj, text, tokens
from otel_ai_cost.providers.anthropic import UNKNOWN_STREAM_ERROR
from otel_ai_cost.providers.base import NamedProtocol, ParsedResponse, RequestFacts, bare_path, is_post
from otel_ai_cost.providers.sse import SSEEvent, SSEStreamParser
from otel_ai_cost.usage import Operation, ServiceTier

GEMINI = "gcp.gemini"
VERTEX_AI = "gcp.vertex_ai"

_GENERATE_METHODS = {"generateContent": False, "streamGenerateContent": True}
_EMBED_METHODS = frozenset({"embedContent", "batchEmbedContents"})
_IMAGEN_DEFAULT_SAMPLES = 4
"""Imagen's `sampleCount` when a request leaves it out (Gemini API and Vertex AI references)."""
_IMAGEN_EDIT_PARAMETERS = ("editMode", "editConfig", "upscaleConfig")
_MAX_CANDIDATES = 64
_MAX_ITEMS = 10_000
"""Predictions or embeddings looked at in one response."""

_COUNTS = (
    "promptTokenCount",
    "cachedContentTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
)
_BILLED_PER_PROMPT = re.compile(r"(?:.*/)?gemini-(?:live-)?[12][.-]")
"""Models whose grounding with Google Search is billed per grounded prompt, not per query."""
_TRAFFIC_TIERS = {"ON_DEMAND_FLEX": ServiceTier.FLEX, "ON_DEMAND_PRIORITY": ServiceTier.PRIORITY}
_PROVISIONED = "PROVISIONED_THROUGHPUT"
_DETAILS = ("promptTokensDetails", "cacheTokensDetails", "candidatesTokensDetails")
_MODALITIES = frozenset({"AUDIO", "IMAGE", "VIDEO"})
_SNIFF_KEYS = (b'"usageMetadata"', b'"finishReason"', b'"modelVersion"', b'"responseId"', b'"error"')
"""A stream chunk is parsed only if it has one of these keys (inside a JSON string a quote is
escaped, so text that mentions them does not match)."""
_DECODER = json.JSONDecoder()
_FINISH = re.compile(rb'"finishReason"\s*:\s*"([^"\\]{1,256})"(?:\s*,\s*"index"\s*:\s*([0-9]{1,2})\b)?')


def model_and_method(path: str) -> tuple[str | None, str] | None:
    """("gemini-2.5-flash", "generateContent") from `.../models/gemini-2.5-flash:generateContent`."""
    path = bare_path(path)
    if "%" in path:
        path = unquote(path)
    slash = path.rfind("/")
    resource, colon, method = path[slash + 1 :].partition(":")
    if not colon or not method:
        return None
    kind = path[path.rfind("/", 0, slash) + 1 : slash] if slash > 0 else ""
    model = resource if kind == "models" or not kind else f"{kind}/{resource}"
    return text(model) if resource else None, method


class GeminiProtocol(NamedProtocol):
    """The Gemini API's REST protocol; Vertex AI's is the same with another provider name."""

    default_provider = GEMINI

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        if not is_post(method):
            return None
        found = model_and_method(path)
        if found is None:
            return None
        model, api_method = found
        streamed = _GENERATE_METHODS.get(api_method)
        if streamed is not None:
            facts = RequestFacts(provider=self.provider, operation=Operation.GENERATE_CONTENT, request_model=model)
            facts.stream = facts.stream_usage_requested = streamed
            return facts
        if api_method in _EMBED_METHODS:
            return RequestFacts(provider=self.provider, operation=Operation.EMBEDDINGS, request_model=model)
        if api_method != "predict" or model is None:
            return None
        name = model.rsplit("/", 1)[-1].lower()
        if name.startswith("imagen-"):
            return _imagen_request(self.provider, model, body)
        if "embedding" in name:
            return RequestFacts(provider=self.provider, operation=Operation.EMBEDDINGS, request_model=model)
        return None

    def parse_response(self, facts: RequestFacts, body: bytes) -> ParsedResponse:
        response = _Response(facts)
        start = body[:64].lstrip()[:1]
        if start == b"[":
            for chunk in _array_items(body):
                response.update(chunk)
        elif start in (b"d", b"e", b":"):
            return self.stream_parser(facts).read_whole(body)
        else:
            data = _json.load(body)
            if data is not None:
                response.update(data)
        return response.build()

    def stream_parser(self, facts: RequestFacts) -> GeminiStreamParser:
        return GeminiStreamParser(facts)


class GeminiStreamParser(SSEStreamParser):
    """`streamGenerateContent?alt=sse`: every event is one GenerateContentResponse."""

    def __init__(self, facts: RequestFacts) -> None:
        super().__init__()
        self._response = _Response(facts)
        self._content_events = 0

    def _build(self) -> ParsedResponse:
        parsed = self._response.build()
        parsed.content_events = self._content_events
        return parsed

    def _event(self, event: SSEEvent) -> None:
        raw = event.data
        if event.truncated:
            self._response.update(_salvage(raw))
            self._content_events += 1
            return
        if not any(key in raw for key in _SNIFF_KEYS):
            self._content_events += 1
            return
        data = _json.load(raw)
        if data is not None:
            self._response.update(data)
            if "candidates" in data:
                self._content_events += 1


def _salvage(raw: bytes) -> dict[str, Any]:
    """The chunk an event too large to keep whole was, as far as its head and tail tell: the base64
    of an image sits in the content, and the finish reason, grounding and usage follow it."""
    chunk: dict[str, Any] = {}
    for key in ("modelVersion", "responseId"):
        value = last_string(raw, key)
        if value is not None:
            chunk[key] = value
    usage = last_object(raw, '"usageMetadata"')
    if usage is not None:
        chunk["usageMetadata"] = usage
    candidates: list[dict[str, Any]] = [
        {"finishReason": reason.decode("utf-8", "replace"), "index": int(index) if index else None}
        for reason, index in _FINISH.findall(raw)
    ]
    grounding = last_object(raw, '"groundingMetadata"')
    if grounding is not None:
        candidates.append({"groundingMetadata": grounding})
    chunk["candidates"] = candidates
    return chunk


def _imagen_request(provider: str, model: str, body: bytes) -> RequestFacts:
    facts = RequestFacts(provider=provider, operation=Operation.IMAGE_GENERATION, request_model=model)
    fields = _json.load(body) or {}
    parameters = obj(fields.get("parameters")) or {}
    if parameters.get("mode") == "upscale" or any(key in parameters for key in _IMAGEN_EDIT_PARAMETERS):
        facts.operation = Operation.IMAGE_EDIT
    samples = parameters.get("sampleCount", fields.get("sampleCount"))
    facts.image_count = _json.count(samples, _IMAGEN_DEFAULT_SAMPLES)
    return facts


def _array_items(body: bytes) -> list[dict[str, Any]]:
    """The objects of a JSON array, as many as are whole even when the array was cut off."""
    try:
        whole = json.loads(body)
    except (ValueError, RecursionError, TypeError):
        whole = None
    if isinstance(whole, list):
        return [item for item in whole if isinstance(item, dict)]
    try:
        document = body.decode("utf-8")
    except UnicodeDecodeError:
        document = body.decode("utf-8", "replace")
    items: list[dict[str, Any]] = []
    position = document.find("[") + 1
    end = len(document)
    while 0 < position < end:
        while position < end and document[position] in " \t\r\n,":
            position += 1
        if position >= end or document[position] != "{":
            break
        try:
            item, position = _DECODER.raw_decode(document, position)
        except (ValueError, RecursionError):
            break
        if isinstance(item, dict):
            items.append(item)
    return items


class _Response:
    """The latest value of each field the response (or its chunks) reported."""

    __slots__ = (
        "facts",
        "model",
        "response_id",
        "finish",
        "counts",
        "found",
        "images",
        "embedding_tokens",
        "traffic",
        "search_queries",
        "error_type",
    )

    def __init__(self, facts: RequestFacts) -> None:
        self.facts = facts
        self.model: str | None = None
        self.response_id: str | None = None
        self.finish: dict[int, str] = {}
        self.counts: dict[str, int] = {}
        self.found = False
        self.images: int | None = None
        self.embedding_tokens: int | None = None
        self.traffic: str | None = None
        """Vertex AI's `trafficType`."""
        self.search_queries = 0
        """Google Search queries a candidate was grounded with (the most of any candidate)."""
        self.error_type: str | None = None
        """A stream's error chunk (`{"error": {"code": 503, "status": "UNAVAILABLE"}}`)."""

    def update(self, data: dict[str, Any]) -> None:
        model = text(data.get("modelVersion"))
        if model is not None:
            self.model = model
        response_id = text(data.get("responseId"))
        if response_id is not None:
            self.response_id = response_id
        candidates = data.get("candidates")
        if isinstance(candidates, list):
            self._candidates(candidates)
        usage = obj(data.get("usageMetadata"))
        if usage is not None:
            self._usage(usage)
        predictions = data.get("predictions")
        if isinstance(predictions, list):
            self._predictions(predictions)
        embeddings = data.get("embeddings")
        if isinstance(embeddings, list):
            self._add_embedding_tokens(obj(item) for item in embeddings[:_MAX_ITEMS])
        error = data.get("error")
        if error is not None and self.facts.stream:  # a whole response's error comes with an HTTP error status
            self.error_type = _error_type(error)

    def _candidates(self, candidates: list[Any]) -> None:
        for position, candidate in enumerate(candidates[:_MAX_CANDIDATES]):
            if not isinstance(candidate, dict):
                continue
            grounding = candidate.get("groundingMetadata")
            if grounding is not None:
                self._grounding(grounding)
            reason = text(candidate.get("finishReason"))
            if reason is None:
                continue
            index = candidate.get("index")
            self.finish[index if type(index) is int and 0 <= index < _MAX_CANDIDATES else position] = reason

    def _grounding(self, grounding: object) -> None:
        queries = grounding.get("webSearchQueries") if isinstance(grounding, dict) else None
        if isinstance(queries, list):
            self.search_queries = max(self.search_queries, min(len(queries), _MAX_ITEMS))

    def _usage(self, usage: dict[str, Any]) -> None:
        traffic = text(usage.get("trafficType"))
        if traffic is not None:
            self.traffic = traffic
        counts = self.counts
        for key in _COUNTS:
            value = tokens(usage.get(key))
            if value is not None:
                counts[key] = value
                self.found = True
        for key in _DETAILS:
            details = usage.get(key)
            if not isinstance(details, list):
                continue
            for detail in details[:16]:
                if not isinstance(detail, dict):
                    continue
                modality = text(detail.get("modality"))  # a list or object here is unhashable
                value = tokens(detail.get("tokenCount"))
                if modality in _MODALITIES and value is not None:
                    counts[f"{key}.{modality}"] = value

    def _predictions(self, predictions: list[Any]) -> None:
        if self.facts.operation in (Operation.IMAGE_GENERATION, Operation.IMAGE_EDIT):
            self.images = sum(
                1
                for item in predictions[:_MAX_ITEMS]
                if isinstance(item, dict) and ("bytesBase64Encoded" in item or "gcsUri" in item)
            )
        else:
            self._add_embedding_tokens(obj(item.get("embeddings")) for item in predictions[:_MAX_ITEMS] if obj(item))

    def _add_embedding_tokens(self, embeddings: Any) -> None:
        total: int | None = None
        for embedding in embeddings:
            statistics = obj(embedding.get("statistics")) if embedding is not None else None
            if statistics is None:
                continue
            value = tokens(statistics.get("tokenCount", statistics.get("token_count")))
            if value is not None:
                total = (total or 0) + value
        if total is not None:
            self.embedding_tokens = total

    def build(self) -> ParsedResponse:
        facts = self.facts
        counts = self.counts
        usage = facts.usage()
        usage.response_model = self.model
        found = self.found
        if found:
            prompt = counts.get("promptTokenCount", 0)
            cached = counts.get("cachedContentTokenCount", 0)
            thoughts = counts.get("thoughtsTokenCount", 0)
            usage.input_tokens = max(prompt, cached) + counts.get("toolUsePromptTokenCount", 0)
            usage.cache_read_tokens = cached
            usage.output_tokens = counts.get("candidatesTokenCount", 0) + thoughts
            usage.reasoning_tokens = thoughts
            cached_audio = min(counts.get("cacheTokensDetails.AUDIO", 0), cached)
            usage.cache_read_audio_tokens = cached_audio
            usage.input_audio_tokens = max(counts.get("promptTokensDetails.AUDIO", 0) - cached_audio, 0)
            usage.input_image_tokens = _uncached(counts, "IMAGE")
            usage.input_video_tokens = _uncached(counts, "VIDEO")
            usage.output_audio_tokens = counts.get("candidatesTokensDetails.AUDIO", 0)
            usage.output_image_tokens = counts.get("candidatesTokensDetails.IMAGE", 0)
            usage.output_video_tokens = counts.get("candidatesTokensDetails.VIDEO", 0)
            if self.traffic is not None:
                usage.service_tier = _TRAFFIC_TIERS.get(self.traffic, usage.service_tier)
                usage.provisioned = self.traffic == _PROVISIONED
            if self.search_queries:
                per_prompt = _BILLED_PER_PROMPT.match(usage.model or "") is not None
                usage.web_search_requests = 1 if per_prompt else self.search_queries
        elif self.embedding_tokens is not None:
            usage.input_tokens = self.embedding_tokens
            found = True
        if self.images is not None:
            usage.image_count = self.images
            found = True
        finish = tuple(self.finish[index] for index in sorted(self.finish))
        return ParsedResponse(
            usage=usage,
            response_id=self.response_id,
            finish_reasons=finish,
            usage_found=found,
            error_type=self.error_type,
        )


def _error_type(error: object) -> str:
    """The error's `status` (UNAVAILABLE, RESOURCE_EXHAUSTED), else its HTTP `code`."""
    if not isinstance(error, dict):
        return UNKNOWN_STREAM_ERROR
    code = error.get("code")
    return text(error.get("status")) or (str(code) if type(code) is int else UNKNOWN_STREAM_ERROR)


def _uncached(counts: dict[str, int], modality: str) -> int:
    """The prompt's tokens of `modality` not served from the cache (those are priced as cache reads)."""
    return max(counts.get(f"promptTokensDetails.{modality}", 0) - counts.get(f"cacheTokensDetails.{modality}", 0), 0)
