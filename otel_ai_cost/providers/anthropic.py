"""The Anthropic Messages wire protocol: POST `/v1/messages`, whole or streamed.

Anthropic's `input_tokens` leaves out the prompt-cache tokens; `Usage.input_tokens` includes
them: input_tokens + cache_read_input_tokens + cache_creation_input_tokens. Cache writes are
split by lifetime when the response has `cache_creation` (5 minute / 1 hour), else all count as
5 minute writes. `usage.server_tool_use.web_search_requests` counts the web searches, billed per
search.
Fast mode (`speed: "fast"` on the request; `usage.speed` says the speed the request ran at, which is
the one billed) is `ServiceTier.FAST`.

A stream is parsed only at `message_start` (id, model, input and cache counts) and
`message_delta` (cumulative output tokens, stop reason, and in newer API versions updated input
and cache counts): the latest non-null value of each count wins. An `error` event (e.g.
`overloaded_error` after `message_start`) sets `ParsedResponse.error_type`: the call is recorded
as failed, with the usage reported before it. `/v1/messages/count_tokens` and
`/v1/messages/batches` are not billable requests.
"""

from __future__ import annotations

from typing import Any

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import obj, text, tokens
from otel_ai_cost.providers.base import NamedProtocol, ParsedResponse, RequestFacts, bare_path, is_post
from otel_ai_cost.providers.sse import SSEEvent, SSEStreamParser, looks_like_sse
from otel_ai_cost.usage import Operation, ServiceTier, Usage

ANTHROPIC = "anthropic"

_TIERS = {"priority": ServiceTier.PRIORITY, "batch": ServiceTier.BATCH}
"""Everything else ("standard", unknown) is the default tier."""

_COUNTS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")
_WRITE_5M, _WRITE_1H = "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"
_WEB_SEARCHES = "web_search_requests"
_STREAM_EVENTS = frozenset({"message_start", "message_delta", "error"})
UNKNOWN_STREAM_ERROR = "stream_error"
"""error.type of an `error` event whose error names no type."""


class AnthropicProtocol(NamedProtocol):
    default_provider = ANTHROPIC

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        if not is_post(method):
            return None
        if not bare_path(path).endswith("/messages"):
            return None  # count_tokens, batches, models, files, ...
        facts = RequestFacts(provider=self.provider, operation=Operation.CHAT)
        fields = _json.load(body)
        if fields is not None:
            facts.request_model = text(fields.get("model"))
            facts.stream = fields.get("stream") is True
            facts.stream_usage_requested = facts.stream  # an Anthropic stream always reports usage
            if fields.get("speed") == "fast":
                facts.service_tier = ServiceTier.FAST
        return facts

    def parse_response(self, facts: RequestFacts, body: bytes) -> ParsedResponse:
        data = _json.load(body)
        if data is None:
            if looks_like_sse(body):
                return self.stream_parser(facts).read_whole(body)
            return _Message(facts).build()
        message = _Message(facts)
        message.update(data)
        return message.build()

    def stream_parser(self, facts: RequestFacts) -> AnthropicStreamParser:
        return AnthropicStreamParser(facts)


class AnthropicStreamParser(SSEStreamParser):
    def __init__(self, facts: RequestFacts) -> None:
        super().__init__()
        self._message = _Message(facts)

    def _build(self) -> ParsedResponse:
        return self._message.build()

    def _event(self, event: SSEEvent) -> None:
        if event.truncated:
            return
        if event.event not in _STREAM_EVENTS:
            if event.event != "message":
                return  # content_block_*, ping, message_stop, error
            if not any(kind in event.data for kind in (b'"message_start"', b'"message_delta"', b'"error"')):
                return  # a stream without `event:` lines (some proxies): sniff the type
        data = _json.load(event.data)
        if data is None:
            return
        kind = data.get("type")
        if kind == "message_start" or (kind is None and event.event == "message_start"):
            message = obj(data.get("message"))
            if message is not None:
                self._message.update(message)
        elif kind == "message_delta" or (kind is None and event.event == "message_delta"):
            delta = obj(data.get("delta")) or {}
            self._message.update({"stop_reason": delta.get("stop_reason"), "usage": data.get("usage")})
        elif kind == "error" or (kind is None and event.event == "error"):
            error = obj(data.get("error")) or {}
            self._message.error_type = text(error.get("type")) or UNKNOWN_STREAM_ERROR


class _Message:
    """The latest non-null value of each field a message's events have reported."""

    __slots__ = ("facts", "model", "message_id", "stop_reason", "tier", "speed", "counts", "found", "error_type")

    def __init__(self, facts: RequestFacts) -> None:
        self.facts = facts
        self.model: str | None = None
        self.message_id: str | None = None
        self.stop_reason: str | None = None
        self.tier: str | None = None
        self.speed: str | None = None
        self.counts: dict[str, int] = {}
        self.found = False
        self.error_type: str | None = None
        """The stream's `error` event (overloaded_error, ...): the message did not complete."""

    def update(self, message: dict[str, Any]) -> None:
        model = text(message.get("model"))
        if model is not None:
            self.model = model
        message_id = text(message.get("id"))
        if message_id is not None:
            self.message_id = message_id
        stop_reason = text(message.get("stop_reason"))
        if stop_reason is not None:
            self.stop_reason = stop_reason
        usage = obj(message.get("usage"))
        if usage is None:
            return
        counts = self.counts
        for key in _COUNTS:
            value = tokens(usage.get(key))
            if value is not None:
                counts[key] = value
                self.found = True
        creation = obj(usage.get("cache_creation"))
        if creation is not None:
            for key in (_WRITE_5M, _WRITE_1H):
                value = tokens(creation.get(key))
                if value is not None:
                    counts[key] = value
        server_tools = obj(usage.get("server_tool_use"))
        if server_tools is not None:
            searches = tokens(server_tools.get(_WEB_SEARCHES))
            if searches is not None:
                counts[_WEB_SEARCHES] = searches
        tier = usage.get("service_tier")
        if isinstance(tier, str):
            self.tier = _TIERS.get(tier, ServiceTier.DEFAULT)
        speed = usage.get("speed")
        if isinstance(speed, str):
            self.speed = speed

    def build(self) -> ParsedResponse:
        facts = self.facts
        counts = self.counts
        cache_read = counts.get("cache_read_input_tokens", 0)
        written = counts.get("cache_creation_input_tokens")
        written_1h = counts.get(_WRITE_1H, 0)
        if written is None:
            written = counts.get(_WRITE_5M, 0) + written_1h
        written_1h = min(written_1h, written)
        requested = ServiceTier.DEFAULT if facts.service_tier == ServiceTier.FAST else facts.service_tier
        fast = self.speed == "fast" if self.speed is not None else facts.service_tier == ServiceTier.FAST
        usage = Usage(
            provider=facts.provider,
            operation=facts.operation,
            request_model=facts.request_model,
            response_model=self.model,
            input_tokens=counts.get("input_tokens", 0) + cache_read + written,
            cache_read_tokens=cache_read,
            cache_write_tokens=written - written_1h,
            cache_write_1h_tokens=written_1h,
            output_tokens=counts.get("output_tokens", 0),
            web_search_requests=counts.get(_WEB_SEARCHES, 0),
            service_tier=ServiceTier.FAST if fast else self.tier or requested,
            deployment=facts.deployment,
        )
        finish = (self.stop_reason,) if self.stop_reason is not None else ()
        return ParsedResponse(
            usage=usage,
            response_id=self.message_id,
            finish_reasons=finish,
            usage_found=self.found,
            error_type=self.error_type,
        )
