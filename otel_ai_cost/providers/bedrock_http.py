"""Amazon Bedrock Runtime over plain HTTP: the anthropic SDK's `AnthropicBedrock` and any HTTP
client calling `bedrock-runtime.{region}.amazonaws.com` itself (boto3 is read by the botocore hook).

| path | operation |
|---|---|
| `/model/{modelId}/invoke` | InvokeModel: the model vendor's JSON body |
| `/model/{modelId}/invoke-with-response-stream` | InvokeModelWithResponseStream |
| `/model/{modelId}/converse` | Converse: Bedrock's `usage` |
| `/model/{modelId}/converse-stream` | ConverseStream: the `metadata` event's `usage` |

The model id is URL-encoded in the path (an ARN's `/` and `:`). Requests and bodies are read by
the same code as boto3's (`providers/bedrock.py`); streams come in AWS's binary event-stream
framing (`providers/eventstream.py`): InvokeModel's `chunk` events carry `{"bytes": base64 of
the vendor's JSON chunk}`, ConverseStream's events are Bedrock's own. An `exception` message in a
stream (throttlingException, ...) fails the call with its type, keeping the usage seen before.

Limit: a parser sees the response body, not its headers, so the `X-Amzn-Bedrock-*-Token-Count`
headers are not read here. Anthropic, Nova, Titan, Llama and OpenAI-style bodies carry their
counts and streams end with `amazon-bedrock-invocationMetrics`; a whole InvokeModel response of a
model whose body reports no counts (Mistral, Cohere embed, legacy completions) is unpriced
(`no_usage`) over HTTP, where boto3 reads the headers.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import unquote

from otel_ai_cost.providers import _json
from otel_ai_cost.providers.anthropic import UNKNOWN_STREAM_ERROR
from otel_ai_cost.providers.base import NamedProtocol, ParsedResponse, RequestFacts, bare_path, is_post
from otel_ai_cost.providers.bedrock import (
    BEDROCK,
    CONVERSE,
    CONVERSE_STREAM,
    INVOKE_MODEL,
    INVOKE_MODEL_STREAM,
    BedrockRequest,
    parse_request,
)
from otel_ai_cost.providers.eventstream import EventMessage, EventStreamReader

_ACTIONS = {
    "invoke": INVOKE_MODEL,
    "invoke-with-response-stream": INVOKE_MODEL_STREAM,
    "converse": CONVERSE,
    "converse-stream": CONVERSE_STREAM,
}
_MODEL_PREFIX = "/model/"
_CONVERSE_EVENTS = frozenset({"metadata", "messageStop"})
"""The ConverseStream events that carry usage or the stop reason; the content deltas are not parsed."""


@dataclass(slots=True)
class BedrockFacts(RequestFacts):
    """The request's facts, and how its response is read."""

    bedrock: BedrockRequest | None = None


def operation_and_model(path: str) -> tuple[str, str] | None:
    """("InvokeModel", "anthropic.claude-3-5-haiku-20241022-v1:0") from `/model/{id}/invoke`."""
    path = bare_path(path)
    if not path.startswith(_MODEL_PREFIX):
        return None
    encoded, slash, action = path[len(_MODEL_PREFIX) :].rpartition("/")
    operation = _ACTIONS.get(action)
    if not slash or not encoded or operation is None:
        return None
    return operation, unquote(encoded)


class BedrockHTTPProtocol(NamedProtocol):
    default_provider = BEDROCK

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        if not is_post(method):
            return None
        found = operation_and_model(path)
        if found is None:
            return None
        operation, model_id = found
        params: dict[str, Any] = {"modelId": model_id}
        if operation in (CONVERSE, CONVERSE_STREAM):
            if b'"serviceTier"' in body:  # the only field read: a large request is not parsed for nothing
                params["serviceTier"] = (_json.load(body) or {}).get("serviceTier")
        else:
            params["body"] = body
        request = parse_request(operation, params)
        if request is None:
            return None
        facts = BedrockFacts(**{field.name: getattr(request.facts, field.name) for field in fields(RequestFacts)})
        facts.provider = self.provider
        facts.bedrock = request
        request.facts = facts
        return facts

    def parse_response(self, facts: RequestFacts, body: bytes) -> ParsedResponse:
        request = _request(facts)
        if facts.stream:
            parser = BedrockEventStreamParser(request)
            parser.feed(body)
            return parser.finish()
        if request.converse:
            return request.parse_response(_json.load(body) or {}, None)
        return request.parse_response({}, body)

    def stream_parser(self, facts: RequestFacts) -> BedrockEventStreamParser:
        return BedrockEventStreamParser(_request(facts))


def _request(facts: RequestFacts) -> BedrockRequest:
    """How the response of the request these facts come from is read."""
    request = facts.bedrock if isinstance(facts, BedrockFacts) else None
    if request is None:  # facts made elsewhere: read the response as Converse's
        request = parse_request(CONVERSE, {"modelId": facts.request_model})
        assert request is not None
        request.facts = facts
    return request


class BedrockEventStreamParser:
    """Fed the event-stream bytes of a ConverseStream or InvokeModelWithResponseStream, split anywhere."""

    def __init__(self, request: BedrockRequest) -> None:
        self._converse = request.converse
        self._reader = EventStreamReader()
        self._events = request.stream_parser()
        self._error_type: str | None = None

    def feed(self, chunk: bytes) -> None:
        for message in self._reader.feed(chunk):
            self._message(message)

    def finish(self) -> ParsedResponse:
        parsed = self._events.finish()
        if self._error_type is not None:
            parsed.error_type = self._error_type
        return parsed

    def _message(self, message: EventMessage) -> None:
        headers = message.headers
        kind = headers.get(":message-type")
        if kind != "event":
            if kind in ("exception", "error"):
                self._error_type = headers.get(":exception-type") or headers.get(":error-code") or UNKNOWN_STREAM_ERROR
            return
        event_type = headers.get(":event-type")
        if self._converse:
            if event_type in _CONVERSE_EVENTS:
                data = _json.load(message.payload)
                if data is not None:
                    self._events.feed({event_type: data})
            return
        if event_type != "chunk":
            return
        encoded = (_json.load(message.payload) or {}).get("bytes")
        if not isinstance(encoded, str):
            return
        try:
            raw = binascii.a2b_base64(encoded)
        except (binascii.Error, ValueError):
            return
        self._events.feed({"chunk": {"bytes": raw}})
