"""Web and file searches are billed per call, on top of the tokens: the real anthropic and openai
SDKs through MockTransport, with responses shaped as the providers' API references show them.

Prices (genai-prices, from the providers' pricing pages): web search $10 per 1,000 searches at
both providers; OpenAI file search $2.50 per 1,000 calls; claude-sonnet-4-5 input 3, output 15
and gpt-4.1 input 2, output 8 USD per 1M tokens.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anthropic
import httpx2
import openai
import pytest

from otel_ai_cost import tags

if TYPE_CHECKING:
    from collections.abc import Callable

    from .conftest import Telemetry

SEARCH_QUERY = "current EU AI Act deadlines"

ANTHROPIC_MESSAGE = {
    "id": "msg_01WebSearch7Qx2",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "text", "text": "I'll search for that."},
        {
            "type": "server_tool_use",
            "id": "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE",
            "name": "web_search",
            "input": {"query": SEARCH_QUERY},
        },
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE",
            "content": [
                {
                    "type": "web_search_result",
                    "url": "https://example.eu/ai-act",
                    "title": "AI Act timeline",
                    "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM5",
                    "page_age": "June 3, 2026",
                }
            ],
        },
        {"type": "text", "text": "The obligations for general-purpose models apply from August 2025."},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 2100,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 450,
        "server_tool_use": {"web_search_requests": 2},
        "service_tier": "standard",
    },
}
# 2100 x 3 + 450 x 15 = 6300 + 6750 = 13050 per 1M = $0.01305; 2 searches x $0.01 = $0.02
ANTHROPIC_COST = 0.01305 + 0.02


def anthropic_stream() -> bytes:
    start = {**ANTHROPIC_MESSAGE, "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": 2100, "output_tokens": 3}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Searching."}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                # cumulative, as Anthropic streams it: the searches come with the final usage
                "usage": {"input_tokens": 2100, "output_tokens": 450, "server_tool_use": {"web_search_requests": 2}},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {name}\ndata: {json.dumps(event)}\n\n".encode() for name, event in events)


OPENAI_RESPONSE = {
    "id": "resp_68a3c1f0c8e48190a1",
    "object": "response",
    "created_at": 1755562480,
    "status": "completed",
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "web_search_call",
            "id": "ws_68a3c1f1",
            "status": "completed",
            "action": {"type": "search", "query": SEARCH_QUERY},
        },
        {
            "type": "web_search_call",
            "id": "ws_68a3c1f2",
            "status": "completed",
            "action": {"type": "open_page", "url": "https://example.eu/ai-act"},
        },
        {
            "type": "web_search_call",
            "id": "ws_68a3c1f3",
            "status": "completed",
            "action": {"type": "search", "query": "AI Act GPAI obligations date"},
        },
        {
            "type": "message",
            "id": "msg_68a3c1f4",
            "status": "completed",
            "role": "assistant",
            "content": [
                {
                    "type": "output_text",
                    "text": "They apply from 2 August 2025.",
                    "annotations": [
                        {
                            "type": "url_citation",
                            "start_index": 0,
                            "end_index": 30,
                            "url": "https://example.eu/ai-act",
                            "title": "AI Act timeline",
                        }
                    ],
                }
            ],
        },
    ],
    "tools": [{"type": "web_search"}],
    "usage": {
        "input_tokens": 1200,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 1500,
    },
}
# 1200 x 2 + 300 x 8 = 2400 + 2400 = 4800 per 1M = $0.0048; 3 calls x $0.01 = $0.03
OPENAI_COST = 0.0048 + 0.03


def openai_stream() -> bytes:
    created = {**OPENAI_RESPONSE, "status": "in_progress", "output": [], "usage": None}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {
            "type": "response.output_item.done",
            "sequence_number": 1,
            "output_index": 0,
            "item": OPENAI_RESPONSE["output"][0],  # type: ignore[index]
        },
        {
            "type": "response.output_text.delta",
            "sequence_number": 2,
            "item_id": "msg_68a3c1f4",
            "output_index": 3,
            "content_index": 0,
            "delta": "They apply from 2 August 2025.",
        },
        {"type": "response.completed", "sequence_number": 3, "response": OPENAI_RESPONSE},
    ]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def serving(whole: dict[str, Any], stream: Callable[[], bytes]) -> httpx2.Client:
    def respond(request: httpx2.Request) -> httpx2.Response:
        if json.loads(request.content).get("stream"):
            return httpx2.Response(200, content=stream(), headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=whole)

    return httpx2.Client(transport=httpx2.MockTransport(respond))


def anthropic_client() -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, http_client=serving(ANTHROPIC_MESSAGE, anthropic_stream)
    )


def openai_client() -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", max_retries=0, http_client=serving(OPENAI_RESPONSE, openai_stream))


WEB_SEARCH_TOOL: Any = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}


def test_anthropic_web_searches_are_billed_per_search(telemetry: Telemetry) -> None:
    with tags(team="research", feature="briefs"):
        message = anthropic_client().messages.create(
            model="claude-sonnet-4-5",
            max_tokens=1024,
            messages=[{"role": "user", "content": SEARCH_QUERY}],
            tools=[WEB_SEARCH_TOOL],
        )
    assert message.usage.server_tool_use is not None and message.usage.server_tool_use.web_search_requests == 2
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.web_search.count"] == 2
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(ANTHROPIC_COST)
    assert attrs["ai.cost.estimated"] is False
    assert telemetry.total("gen_ai.client.cost", **{"ai.cost.team": "research"}) == pytest.approx(ANTHROPIC_COST)


def test_anthropic_stream_web_searches_come_with_the_final_usage(telemetry: Telemetry) -> None:
    with anthropic_client().messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=1024,
        messages=[{"role": "user", "content": SEARCH_QUERY}],
        tools=[WEB_SEARCH_TOOL],
    ) as stream:
        final = stream.get_final_message()
    assert final.usage.output_tokens == 450
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.web_search.count"] == 2
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(ANTHROPIC_COST)


def test_openai_responses_web_search_calls_are_billed_per_call(telemetry: Telemetry) -> None:
    response = openai_client().responses.create(model="gpt-4.1", input=SEARCH_QUERY, tools=[{"type": "web_search"}])
    assert response.output_text == "They apply from 2 August 2025."
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.web_search.count"] == 3
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(OPENAI_COST)


def test_openai_responses_stream_counts_the_completed_response_calls(telemetry: Telemetry) -> None:
    stream = openai_client().responses.create(
        model="gpt-4.1", input=SEARCH_QUERY, tools=[{"type": "web_search"}], stream=True
    )
    kinds = [event.type for event in stream]
    assert kinds[-1] == "response.completed"
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.web_search.count"] == 3  # the completed response's, not the one item event also seen
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(OPENAI_COST)


def test_a_chat_without_searches_has_no_search_count(telemetry: Telemetry) -> None:
    plain = {**OPENAI_RESPONSE, "output": OPENAI_RESPONSE["output"][3:]}  # type: ignore[index]
    client = openai.OpenAI(api_key="sk-test", max_retries=0, http_client=serving(plain, openai_stream))
    client.responses.create(model="gpt-4.1", input="hello")
    attrs = dict(telemetry.one_span().attributes or {})
    assert "ai.web_search.count" not in attrs
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.0048)


def test_openai_responses_file_search_calls_are_billed_per_call(telemetry: Telemetry) -> None:
    file_search = {
        "type": "file_search_call",
        "id": "fs_68a3c1f9",
        "status": "completed",
        "queries": ["termination clause"],
        "results": None,
    }
    answer = {**OPENAI_RESPONSE, "output": [file_search, file_search, OPENAI_RESPONSE["output"][3]]}  # type: ignore[index]
    client = openai.OpenAI(api_key="sk-test", max_retries=0, http_client=serving(answer, openai_stream))
    tools: Any = [{"type": "file_search", "vector_store_ids": ["vs_1234567890"]}]
    client.responses.create(model="gpt-4.1", input="termination clause", tools=tools)
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.file_search.count"] == 2 and "ai.web_search.count" not in attrs
    # 1200 x 2 + 300 x 8 = 4800 per 1M = $0.0048; 2 calls x $2.50 / 1000 = $0.005
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.0048 + 0.005)


SEARCH_MODEL_ANSWER = "The obligations for general-purpose models apply from 2 August 2025."
SEARCH_MODEL_COMPLETION = {
    "id": "chatcmpl-BKq3mXfVPt9aQ2Lr5Sg1YwZcDe7o",
    "object": "chat.completion",
    "created": 1744316800,
    "model": "gpt-4o-mini-search-preview-2025-03-11",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": SEARCH_MODEL_ANSWER,
                "refusal": None,
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "start_index": 0,
                            "end_index": 68,
                            "title": "AI Act timeline",
                            "url": "https://example.eu/ai-act?utm_source=openai",
                        },
                    }
                ],
            },
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "system_fingerprint": "",
}
# gpt-4o-mini-search-preview is priced as gpt-4o-mini in genai-prices: input 0.15, output 0.6 USD per
# 1M, web search $10 per 1,000. 1200 x 0.15 + 300 x 0.6 = 180 + 180 = 360 per 1M = $0.00036;
# one search per request: $0.01.
SEARCH_MODEL_COST = 0.00036 + 0.01


def search_model_stream() -> bytes:
    base = {key: SEARCH_MODEL_COMPLETION[key] for key in ("id", "created", "model", "system_fingerprint")}
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": SEARCH_MODEL_ANSWER}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": SEARCH_MODEL_COMPLETION["usage"]},
    ]
    events = [{**base, "object": "chat.completion.chunk", "usage": None, **chunk} for chunk in chunks]
    return b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"


def search_model_client(completion: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", max_retries=0, http_client=serving(completion, search_model_stream))


def test_a_chat_completions_search_model_bills_a_search_per_request(telemetry: Telemetry) -> None:
    completion = search_model_client(SEARCH_MODEL_COMPLETION).chat.completions.create(
        model="gpt-4o-mini-search-preview",
        web_search_options={},
        messages=[{"role": "user", "content": SEARCH_QUERY}],
    )
    assert completion.choices[0].message.content == SEARCH_MODEL_ANSWER
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.web_search.count"] == 1
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(SEARCH_MODEL_COST)
    assert attrs["ai.cost.estimated"] is False


def test_a_search_model_stream_bills_its_search_too(telemetry: Telemetry) -> None:
    stream = search_model_client(SEARCH_MODEL_COMPLETION).chat.completions.create(
        model="gpt-4o-mini-search-preview",
        web_search_options={},
        messages=[{"role": "user", "content": SEARCH_QUERY}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == SEARCH_MODEL_ANSWER
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.web_search.count"] == 1
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(SEARCH_MODEL_COST)


def test_a_search_model_without_a_search_price_is_an_estimate(telemetry: Telemetry) -> None:
    completion = {**SEARCH_MODEL_COMPLETION, "model": "gpt-4o-search-preview-2025-03-11"}
    search_model_client(completion).chat.completions.create(
        model="gpt-4o-search-preview", messages=[{"role": "user", "content": SEARCH_QUERY}]
    )
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["ai.web_search.count"] == 1
    # genai-prices has no per-search price for gpt-4o-search-preview: its tokens alone, input 2.5 and
    # output 10 USD per 1M: 1200 x 2.5 + 300 x 10 = 3000 + 3000 = 6000 per 1M = $0.006
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.006)
    assert attrs["ai.cost.estimated"] is True


def test_other_chat_completions_models_bill_no_search(telemetry: Telemetry) -> None:
    completion = {**SEARCH_MODEL_COMPLETION, "model": "gpt-4o-mini-2024-07-18"}
    search_model_client(completion).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": SEARCH_QUERY}]
    )
    attrs = dict(telemetry.one_span().attributes or {})
    assert "ai.web_search.count" not in attrs
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.00036)  # the tokens alone, as above
