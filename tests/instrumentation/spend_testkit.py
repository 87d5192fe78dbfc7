"""The real openai and anthropic SDKs over httpx2.MockTransport, for the budget and workflow tests.

Responses follow the providers' API references; the handler records every request it is sent, so a
test can assert that a request was NOT sent.

Prices (USD per 1M tokens): gpt-4o-mini input 0.15, output 0.60; claude-sonnet-4-6 input 3, output 15.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import openai

OPENAI_IN, OPENAI_OUT = 1000, 500
# 1000 x 0.15 + 500 x 0.60 = 150 + 300 = 450 per 1M
OPENAI_COST = 0.00045
ANTHROPIC_IN, ANTHROPIC_OUT = 1000, 200
# 1000 x 3 + 200 x 15 = 3000 + 3000 = 6000 per 1M
ANTHROPIC_COST = 0.006


def chat_completion(model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": f"{model}-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Routed to billing.", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": OPENAI_IN,
            "completion_tokens": OPENAI_OUT,
            "total_tokens": OPENAI_IN + OPENAI_OUT,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
    }


MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "Escalate to a human."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": ANTHROPIC_IN,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": ANTHROPIC_OUT,
        "service_tier": "standard",
    },
}
UNKNOWN_MODEL = "mystery-model-x"


def chat_stream(model: str = "gpt-4o-mini") -> bytes:
    """A streamed chat completion with `stream_options.include_usage`: usage in the last chunk."""
    whole = chat_completion(model)
    chunk = {key: whole[key] for key in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    events = [
        chunk | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Routed"}}], "usage": None},
        chunk | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None},
        chunk | {"choices": [], "usage": whole["usage"]},
    ]
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"


class Pieces(httpx2.SyncByteStream):
    """A body that arrives in small pieces, as from a socket (so the caller reads it after send)."""

    def __init__(self, body: bytes) -> None:
        self.pieces = [body[i : i + 16] for i in range(0, len(body), 16)]

    def __iter__(self) -> Any:
        yield from self.pieces


class Handler:
    """The MockTransport handler: a chat completion (streamed when asked) or a message; a 500 for `model: "fail"`."""

    def __init__(self) -> None:
        self.seen: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        headers = {"content-type": "application/json"}
        if request.url.path.endswith("/messages"):
            return httpx2.Response(200, content=json.dumps(MESSAGE).encode(), headers=headers)
        body = json.loads(request.content)
        model = body["model"]
        if body.get("stream"):
            return httpx2.Response(
                200, stream=Pieces(chat_stream(model)), headers={"content-type": "text/event-stream"}
            )
        if model == "fail":
            error = {"error": {"message": "The server had an error", "type": "server_error"}}
            return httpx2.Response(500, content=json.dumps(error).encode(), headers=headers)
        return httpx2.Response(200, content=json.dumps(chat_completion(model)).encode(), headers=headers)


def openai_client(handler: Handler) -> openai.OpenAI:
    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(api_key="sk-test-not-a-real-key", max_retries=0, http_client=http)


def async_openai_client(handler: Handler) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return openai.AsyncOpenAI(api_key="sk-test-not-a-real-key", max_retries=0, http_client=http)


def anthropic_client(handler: Handler) -> anthropic.Anthropic:
    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return anthropic.Anthropic(api_key="sk-ant-test-not-a-real-key", max_retries=0, http_client=http)


PROMPT = [{"role": "user", "content": "secret prompt"}]


def ask_openai(client: openai.OpenAI, model: str = "gpt-4o-mini") -> Any:
    return client.chat.completions.create(model=model, messages=PROMPT)  # type: ignore[arg-type]


async def ask_openai_async(client: openai.AsyncOpenAI) -> Any:
    return await client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)  # type: ignore[arg-type]


def ask_anthropic(client: anthropic.Anthropic) -> Any:
    return client.messages.create(model="claude-sonnet-4-6", max_tokens=512, messages=PROMPT)  # type: ignore[arg-type]
