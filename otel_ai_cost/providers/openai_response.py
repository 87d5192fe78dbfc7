"""What an OpenAI-style response said, whole or streamed, and the `Usage` it makes.

One `usage` object reader serves every naming: chat and completions (`prompt_tokens`,
`completion_tokens`, `*_tokens_details`), the Responses API and gpt-image-1 (`input_tokens`,
`output_tokens`, `input_tokens_details`, `output_tokens_details`) and embeddings. Parts
(cached, reasoning, audio, image tokens) are clamped to their whole.

Reasoning tokens are part of `completion_tokens` (OpenAI), except where `total_tokens` says they
were counted beside them (xAI's Grok: total = prompt + completion + reasoning): then they are added
to the output.

Gateways' additions: DeepSeek's `prompt_cache_hit_tokens` (cache reads when the details say
none), OpenRouter's `prompt_tokens_details.cache_write_tokens`, and the request's own cost where
the provider states it in USD: OpenRouter's `usage.cost` (credits of one US dollar; plus
`cost_details.upstream_inference_cost` when the upstream provider bills the user's own key) and
Perplexity's `usage.cost.total_cost`.

A Responses API response's `web_search_call` and `file_search_call` output items are its web and
file searches, billed per call. A Chat Completions search model (`gpt-4o-search-preview`,
`gpt-5-search-api`, ...) searches the web before every answer, and its usage does not say so: each
of its responses counts one web search.
A background response (`background: true`) is billable when it is finished, and once (see
`openai`); while `queued` or `in_progress` it is not.
"""

from __future__ import annotations

import re
from typing import Any

from otel_ai_cost.providers._json import amount, obj, text, tokens
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts
from otel_ai_cost.usage import Operation, ServiceTier, Usage

IMAGE_OPERATIONS = frozenset({Operation.IMAGE_GENERATION, Operation.IMAGE_EDIT})
TIERS = {
    "flex": ServiceTier.FLEX,
    "priority": ServiceTier.PRIORITY,
    "fast": ServiceTier.PRIORITY,  # OpenAI's new name for priority processing (2026-07), at its prices
    "batch": ServiceTier.BATCH,
}
"""Everything else ("default", "auto", "scale", unknown) is the default tier."""

REPORTS_COST = frozenset({"openrouter", "perplexity"})
"""Providers whose `usage.cost` is the request's price in USD."""
_MAX_REPORTED_USD = 10_000.0
"""A stated cost above this is not believable for one request and is ignored."""

_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}
_STATUS_REASONS = {"completed": "stop", "failed": "error"}
_UNFINISHED = frozenset({"queued", "in_progress"})
_SEARCH_MODEL = re.compile(r"-search-(?:preview|api)(?:-|$)")
"""Chat Completions models that run a web search for every request."""


class ResponseState:
    """What a response (whole or streamed) said, until it is turned into a ParsedResponse."""

    __slots__ = (
        "facts",
        "model",
        "response_id",
        "tier",
        "usages",
        "finish",
        "images",
        "size",
        "quality",
        "web_searches",
        "file_searches",
        "state",
        "background",
    )

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
        self.web_searches = 0
        self.file_searches = 0
        self.state: str | None = None
        """A Responses API response's `status`: queued, in_progress, completed, ..."""
        self.background = False

    def copy(self) -> ResponseState:
        """A copy that changes to this state leave alone."""
        other = ResponseState(self.facts)
        for name in ResponseState.__slots__:
            setattr(other, name, getattr(self, name))
        other.usages = list(self.usages)
        other.finish = dict(self.finish)
        return other

    def meta(self, data: dict[str, Any]) -> None:
        model = text(data.get("model"))
        if model is not None:
            self.model = model
        response_id = text(data.get("id"))
        if response_id is not None:
            self.response_id = response_id
        tier = data.get("service_tier")
        if isinstance(tier, str):
            self.tier = TIERS.get(tier, ServiceTier.DEFAULT)

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
        if isinstance(status, str):
            self.state = status
        background = response.get("background")
        if isinstance(background, bool):
            self.background = background
        if not isinstance(status, str) or not status or status in _UNFINISHED:
            return
        if status == "incomplete":
            details = obj(response.get("incomplete_details")) or {}
            reason = text(details.get("reason"))
            self.finish = {0: _INCOMPLETE_REASONS.get(reason or "", reason or "incomplete")}
        else:
            self.finish = {0: _STATUS_REASONS.get(status, status[:64])}

    def tool_calls(self, response: dict[str, Any]) -> None:
        """The web and file searches among a Responses API response's output items."""
        output = response.get("output")
        if isinstance(output, list):
            kinds = [item.get("type") for item in output if isinstance(item, dict)]
            self.web_searches = kinds.count("web_search_call")
            self.file_searches = kinds.count("file_search_call")

    def image_facts(self, data: dict[str, Any]) -> None:
        """gpt-image-1 responses say the size and quality they produced."""
        size, quality = text(data.get("size")), text(data.get("quality"))
        if size is not None and size != "auto":
            self.size = size
        if quality is not None and quality != "auto":
            self.quality = quality

    def build(self) -> ParsedResponse:
        facts = self.facts
        image_operation = facts.operation in IMAGE_OPERATIONS
        usage = Usage(
            provider=facts.provider,
            operation=facts.operation,
            request_model=facts.request_model,
            response_model=self.model,
            deployment=facts.deployment,
            service_tier=self.tier or facts.service_tier,
            web_search_requests=self.web_searches,
            file_search_requests=self.file_searches,
        )
        found = False
        for counts in self.usages:
            found = add_tokens(usage, counts, facts.operation) or found
        if image_operation:
            usage.image_count = self.images
            usage.image_size = self.size if facts.image_size in (None, "auto") and self.size else facts.image_size
            usage.image_quality = (
                self.quality if facts.image_quality in (None, "auto") and self.quality else facts.image_quality
            )
            found = found or self.images > 0
        elif found and not usage.web_search_requests and "-search-" in (model := usage.model or ""):
            if _SEARCH_MODEL.search(model) is not None:
                usage.web_search_requests = 1
        finish = tuple(self.finish[key] for key in sorted(self.finish))
        parsed = ParsedResponse(usage=usage, response_id=self.response_id, finish_reasons=finish, usage_found=found)
        if self.background and self.state not in _UNFINISHED:
            parsed.billed_once_id = facts.response_id or self.response_id  # a retrieval: the id asked for
        if facts.retrieval:
            parsed.billable = self.background and found and self.state not in _UNFINISHED
        elif self.background and self.state in _UNFINISHED and not found:
            parsed.billable = False  # billed when it is fetched finished
        return parsed


def add_tokens(usage: Usage, counts: dict[str, Any], operation: str) -> bool:
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
    cached = tokens(inputs.get("cached_tokens"))
    if not cached:
        cached = tokens(counts.get("prompt_cache_hit_tokens"))  # DeepSeek
    read = min(cached or 0, prompt)
    usage.cache_read_tokens += read
    usage.cache_write_tokens += _part(inputs.get("cache_write_tokens"), prompt - read)  # OpenRouter
    usage.input_audio_tokens += _part(inputs.get("audio_tokens"), prompt)
    usage.input_image_tokens += _part(inputs.get("image_tokens"), prompt)
    reasoning = tokens(outputs.get("reasoning_tokens"))
    if reasoning and tokens(counts.get("total_tokens")) == prompt + completion + reasoning:
        completion += reasoning  # xAI's Grok: reasoning is counted beside completion_tokens, not in them
    usage.output_tokens += completion
    usage.reasoning_tokens += min(reasoning or 0, completion)
    usage.output_audio_tokens += _part(outputs.get("audio_tokens"), completion)
    image_tokens = tokens(outputs.get("image_tokens"))
    if image_tokens is None and operation in IMAGE_OPERATIONS:
        image_tokens = completion  # gpt-image-1 outputs only image tokens
    usage.output_image_tokens += min(image_tokens or 0, completion)
    if usage.provider in REPORTS_COST:
        reported = _reported_cost(counts)
        if reported is not None:
            usage.provider_reported_cost = (usage.provider_reported_cost or 0.0) + reported
    return True


def _reported_cost(counts: dict[str, Any]) -> float | None:
    """The USD a gateway says the request cost: OpenRouter's number, Perplexity's `total_cost`."""
    cost = counts.get("cost")
    details = obj(cost)
    usd = amount(details.get("total_cost") if details is not None else cost, _MAX_REPORTED_USD)
    if usd is not None and counts.get("is_byok") is True:  # OpenRouter's fee only: the upstream bills the key
        upstream = amount((obj(counts.get("cost_details")) or {}).get("upstream_inference_cost"), _MAX_REPORTED_USD)
        usd += upstream or 0.0
    return usd


def _part(value: object, whole: int) -> int:
    count = tokens(value)
    return 0 if count is None else min(count, whole)
