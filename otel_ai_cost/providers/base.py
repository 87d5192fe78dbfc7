"""What every wire-protocol parser provides. Pure functions over bytes: no OpenTelemetry, no httpx.

The transport hands a parser the request it saw and the response bytes the caller read; the
parser answers with a `Usage` (for pricing) and the response facts the span reports. Bodies are
untrusted: a parser returns what it could read and never raises on bad input (the transport
still guards every call).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from otel_ai_cost.usage import Usage


@dataclass(slots=True)
class RequestFacts:
    """What a parser read from the request: only what pricing and the span need."""

    provider: str
    """gen_ai.provider.name"""
    operation: str
    """gen_ai.operation.name"""
    request_model: str | None = None
    deployment: str | None = None
    stream: bool = False
    stream_usage_requested: bool = False
    """OpenAI chat/completions: `stream_options.include_usage` was set."""
    choices: int = 1
    """OpenAI chat/completions: the choices asked for (`n`), each with its own finish reason."""
    image_count: int = 0
    image_size: str | None = None
    image_quality: str | None = None
    image_steps: int | None = None
    service_tier: str = "default"
    request_bytes: int = 0
    """Size of the request body: the input estimate of a stream that reports no usage."""
    retrieval: bool = False
    """A GET of a stored response (the Responses API's background mode): billable only when it is
    a finished background response; no budget stops it (what it fetches was already sent)."""
    response_id: str | None = None
    """The id of the response a retrieval asked for (from the path)."""

    def usage(self) -> Usage:
        """What the request alone says, before (or without) a readable response."""
        return Usage(
            provider=self.provider,
            operation=self.operation,
            request_model=self.request_model,
            deployment=self.deployment,
            image_count=self.image_count,
            image_size=self.image_size,
            image_quality=self.image_quality,
            image_steps=self.image_steps,
            service_tier=self.service_tier,
        )


def bare_path(path: str) -> str:
    """`path` without its query string and trailing slashes."""
    query = path.find("?")
    if query >= 0:
        path = path[:query]
    return path.rstrip("/")


def path_after(path: str, prefix: str) -> str | None:
    """What follows `prefix` in the bare path (found anywhere: a gateway may put its own prefix before
    it), or None when the path does not have it."""
    path = bare_path(path)
    start = path.find(prefix)
    return None if start < 0 else path[start + len(prefix) :]


@dataclass(slots=True)
class ParsedResponse:
    usage: Usage
    response_id: str | None = None
    finish_reasons: tuple[str, ...] = field(default_factory=tuple)
    usage_found: bool = True
    """False when the response carried no usage (e.g. a stream without include_usage)."""
    content_events: int = field(default=0, compare=False)
    """Streamed content deltas seen (about one token each): the output estimate without usage. Not
    all are counted when the stream reports usage (an OpenAI stream read at its end only)."""
    error_type: str | None = None
    """The error a stream ended in after a successful HTTP status (an Anthropic `error` event,
    a Bedrock exception message): the call is recorded as failed, with the usage reported before."""
    billable: bool = True
    """False when the response is no billable request of its own: a background response still
    queued (its usage comes when it is fetched finished), or a fetch of a response that is not a
    finished background one. Its span ends with no cost and no metrics."""
    billed_once_id: str | None = None
    """The id under which this response is billed at most once: a finished background response may
    be streamed, then fetched again, or fetched by several polls."""


class StreamParser(Protocol):
    """Fed the SSE bytes of a streamed response as the caller reads them, in chunks of any size."""

    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> ParsedResponse: ...


def is_post(method: str) -> bool:
    """Only POSTs send billable work in every protocol here (GETs poll, list or fetch; a fetched
    background response is billed in `openai`, where it is read)."""
    return method == "POST" or method.upper() == "POST"


class NamedProtocol:
    """What every wire-protocol class shares: the provider name it reports.

    A gateway or a self-hosted server speaking the protocol reports its own name (`openai:vllm` in
    the endpoint map); the class's `default_provider` is the protocol owner's.
    """

    default_provider: ClassVar[str]

    def __init__(self, provider: str | None = None) -> None:
        self.provider = provider or self.default_provider

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r})"


class WholeBodyParser:
    """For APIs that answer no SSE: the first `limit` bytes fed, parsed whole at the end."""

    def __init__(self, protocol: WireProtocol, facts: RequestFacts, limit: int = 65536) -> None:
        self.protocol = protocol
        self.facts = facts
        self.limit = limit
        self.body = bytearray()

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self.body)
        if room > 0:
            self.body += chunk[:room]

    def finish(self) -> ParsedResponse:
        return self.protocol.parse_response(self.facts, bytes(self.body))


class WireProtocol(Protocol):
    """One parser per wire protocol (OpenAI-style, Azure OpenAI, Anthropic Messages, ...)."""

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        """Facts of a billable request, or None when this request is not billable (e.g. GET /models)."""
        ...

    def parse_response(self, facts: RequestFacts, body: bytes) -> ParsedResponse: ...

    def stream_parser(self, facts: RequestFacts) -> StreamParser: ...
