"""Local stand-ins of the OpenAI, Anthropic, Gemini and Bedrock APIs for the demo: realistic
responses, no key.

    python examples/standin_server.py PORT_FILE

Serves on 127.0.0.1 at a free port, written to PORT_FILE. OpenAI under /v1, Anthropic under
/anthropic/v1, Gemini under /gemini (`...models/{model}:generateContent`), Bedrock Runtime's
Converse at /model/{modelId}/converse. Token counts are derived from the request size, so
different calls cost differently.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _tokens(body: dict[str, Any]) -> int:
    text = body.get("messages") or body.get("input") or body.get("prompt") or body.get("contents") or ""
    return max(8, len(json.dumps(text)) // 4)


def openai_chat(body: dict[str, Any]) -> dict[str, Any]:
    prompt = _tokens(body) + 1200
    return {
        "id": f"chatcmpl-demo{int(time.time() * 1000)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06"}.get(
            body["model"], body["model"]
        ),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Here is a helpful answer."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": 180,
            "total_tokens": prompt + 180,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
    }


def openai_chat_stream(body: dict[str, Any]) -> list[dict[str, Any]]:
    base = {
        "id": "chatcmpl-demostream",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "gpt-4o-mini-2024-07-18",
    }
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    events += [
        {**base, "choices": [{"index": 0, "delta": {"content": f"token{i} "}, "finish_reason": None}]}
        for i in range(40)
    ]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(
            {
                **base,
                "choices": [],
                "usage": {"prompt_tokens": _tokens(body), "completion_tokens": 41, "total_tokens": _tokens(body) + 41},
            }
        )
    return events


def openai_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    n = _tokens(body)
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.01] * 8}],
        "model": body["model"],
        "usage": {"prompt_tokens": n, "total_tokens": n},
    }


def openai_images(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "created": int(time.time()),
        "data": [{"url": "https://example.invalid/image.png", "revised_prompt": "a picture"}] * int(body.get("n", 1)),
    }


def anthropic_message(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_01DemoXYZ",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": "A careful review."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": _tokens(body),
            "cache_creation_input_tokens": 4000,
            "cache_read_input_tokens": 12000,
            "output_tokens": 650,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 4000},
            "service_tier": "standard",
        },
    }


def anthropic_stream(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    start = {
        "type": "message_start",
        "message": {
            **anthropic_message(body),
            "content": [],
            "stop_reason": None,
            "usage": {
                "input_tokens": _tokens(body),
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", start),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    events += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"word{i} "}},
        )
        for i in range(30)
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 31},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def gemini_generate(model: str, body: dict[str, Any]) -> dict[str, Any]:
    prompt = _tokens(body) + 3000
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Three findings, with sources."}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": 420,
            "thoughtsTokenCount": 900,
            "totalTokenCount": prompt + 1320,
        },
        "modelVersion": model,
        "responseId": "demo-gemini-response",
    }


def bedrock_converse(body: dict[str, Any]) -> dict[str, Any]:
    prompt = _tokens(body) + 600
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "Ticket routed to billing."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": prompt, "outputTokens": 60, "totalTokens": prompt + 60},
        "metrics": {"latencyMs": 420},
    }


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # keep the demo's output readable
        pass

    def _send_json(self, payload: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, frames: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for frame in frames:
            self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        path = self.path.split("?")[0]
        if path == "/v1/chat/completions":
            if body.get("stream"):
                frames = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in openai_chat_stream(body)]
                self._send_sse(frames + [b"data: [DONE]\n\n"])
            else:
                self._send_json(openai_chat(body))
        elif path == "/v1/embeddings":
            self._send_json(openai_embeddings(body))
        elif path.startswith("/gemini/") and path.endswith(":generateContent"):
            self._send_json(gemini_generate(path.rsplit("/", 1)[-1].split(":")[0], body))
        elif path.startswith("/model/") and path.endswith("/converse"):
            self._send_json(bedrock_converse(body))
        elif path == "/v1/images/generations":
            self._send_json(openai_images(body))
        elif path == "/anthropic/v1/messages":
            if body.get("stream"):
                self._send_sse(
                    [f"event: {name}\ndata: {json.dumps(e)}\n\n".encode() for name, e in anthropic_stream(body)]
                )
            else:
                self._send_json(anthropic_message(body))
        else:
            self._send_json({"error": {"message": f"no stand-in for {path}", "type": "invalid_request_error"}}, 404)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(sys.argv[1]).write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
