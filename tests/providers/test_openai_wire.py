"""OpenAI's wire protocol on recorded response shapes (fixtures/openai_*), exact token counts."""

from __future__ import annotations

import json

import pytest
from wire_testkit import assert_every_chunking, chunkings, facts_for, fixture, parse_stream

from otel_ai_cost.providers.base import ParsedResponse
from otel_ai_cost.providers.openai import OpenAIProtocol, operation_of
from otel_ai_cost.usage import Operation, Usage

OPENAI = OpenAIProtocol()


def test_chat_with_cached_and_reasoning_tokens() -> None:
    facts = facts_for(
        OPENAI,
        "/v1/chat/completions",
        {"model": "o4-mini", "messages": [{"role": "user", "content": "Total?"}], "service_tier": "auto"},
    )
    assert (facts.provider, facts.operation, facts.request_model) == ("openai", "chat", "o4-mini")
    assert not facts.stream and facts.service_tier == "default"

    parsed = OPENAI.parse_response(facts, fixture("openai_chat_cached_reasoning.json"))

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="openai",
            operation="chat",
            request_model="o4-mini",
            response_model="o4-mini-2025-04-16",
            input_tokens=2006,  # prompt_tokens, cached tokens included
            cache_read_tokens=1920,
            output_tokens=1275,  # completion_tokens, reasoning tokens included
            reasoning_tokens=1024,
        ),
        response_id="chatcmpl-C3kq7d9uXfI0Zr6HqNn2bLw1sTgYe",
        finish_reasons=("stop",),
    )


def test_chat_stream_with_include_usage() -> None:
    facts = facts_for(
        OPENAI,
        "/v1/chat/completions",
        {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}, "messages": []},
    )
    assert facts.stream and facts.stream_usage_requested
    stream = fixture("openai_chat_stream_usage.sse")

    parsed = parse_stream(OPENAI.stream_parser(facts), [stream])

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="openai",
            request_model="gpt-4o-mini",
            response_model="gpt-4o-mini-2024-07-18",
            input_tokens=1289,
            cache_read_tokens=1152,
            output_tokens=87,
        ),
        response_id="chatcmpl-C3krPqA8mZ1oVt0q2Yc5xWd7eRbJh",
        finish_reasons=("stop",),
    )
    assert_every_chunking(OPENAI, facts, stream, parsed)


def test_chat_stream_without_usage_reports_usage_not_found() -> None:
    facts = facts_for(OPENAI, "/v1/chat/completions", {"model": "gpt-4o", "stream": True, "messages": []})
    assert facts.stream and not facts.stream_usage_requested
    stream = fixture("openai_chat_stream_no_usage.sse")

    parsed = parse_stream(OPENAI.stream_parser(facts), [stream])

    assert parsed == ParsedResponse(
        usage=Usage(provider="openai", request_model="gpt-4o", response_model="gpt-4o-2024-08-06"),
        response_id="chatcmpl-C3ks1bVn4JqY8wXo0tRkE2cDfGh7a",
        finish_reasons=("tool_calls",),
        usage_found=False,
    )
    assert_every_chunking(OPENAI, facts, stream, parsed)


def test_stream_parses_only_events_that_can_carry_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    from otel_ai_cost.providers import _json

    facts = facts_for(OPENAI, "/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True})
    parsed_events: list[bytes] = []
    real_load = _json.load

    def counting_load(body: bytes) -> object:
        parsed_events.append(body)
        return real_load(body)

    monkeypatch.setattr(_json, "load", counting_load)
    parse_stream(OPENAI.stream_parser(facts), [fixture("openai_chat_stream_usage.sse")])
    # the finish_reason chunk and the usage chunk, which name the model and id too; not the content deltas
    assert len(parsed_events) == 2

    parsed_events.clear()
    facts.choices = 2  # n=2: every event is searched, and the first chunk parsed for the model and id
    parse_stream(OPENAI.stream_parser(facts), [fixture("openai_chat_stream_usage.sse")])
    assert len(parsed_events) == 3


def test_n_choices_finish_reasons_in_choice_order() -> None:
    facts = facts_for(OPENAI, "/v1/chat/completions", {"model": "gpt-4o-mini", "n": 2, "stream": True})
    assert facts.choices == 2
    chunk = (
        '{{"id":"c1","model":"gpt-4o-mini-2024-07-18","choices":[{{"index":{i},"delta":{{}},"finish_reason":"{r}"}}]}}'
    )
    stream = (
        f"data: {chunk.format(i=1, r='length')}\n\ndata: {chunk.format(i=0, r='stop')}\n\ndata: [DONE]\n\n"
    ).encode()
    parsed = parse_stream(OPENAI.stream_parser(facts), [stream])
    assert parsed.finish_reasons == ("stop", "length")


def test_legacy_completions() -> None:
    facts = facts_for(OPENAI, "/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test"})
    assert facts.operation == Operation.TEXT_COMPLETION

    parsed = OPENAI.parse_response(facts, fixture("openai_completions.json"))

    assert parsed.usage == Usage(
        provider="openai",
        operation="text_completion",
        request_model="gpt-3.5-turbo-instruct",
        response_model="gpt-3.5-turbo-instruct:20230824-v2",
        input_tokens=5,
        output_tokens=7,
    )
    assert parsed.finish_reasons == ("length",) and parsed.usage_found


def test_responses_api() -> None:
    facts = facts_for(OPENAI, "/v1/responses", {"model": "o4-mini", "input": "Q3?", "service_tier": "flex"})
    assert facts.operation == Operation.CHAT and facts.service_tier == "flex"

    parsed = OPENAI.parse_response(facts, fixture("openai_responses.json"))

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="openai",
            request_model="o4-mini",
            response_model="o4-mini-2025-04-16",
            input_tokens=3120,
            cache_read_tokens=2944,
            output_tokens=742,
            reasoning_tokens=448,
            service_tier="flex",
        ),
        response_id="resp_68a1f0c2b5d08190a7e3c4d5f6a7b8c90e1f2a3b4c5d6e7f",
        finish_reasons=("stop",),
    )


def test_responses_api_stream() -> None:
    facts = facts_for(OPENAI, "/v1/responses", {"model": "gpt-4.1", "input": "Which regions?", "stream": True})
    stream = fixture("openai_responses_stream.sse")

    parsed = parse_stream(OPENAI.stream_parser(facts), [stream])

    assert parsed == ParsedResponse(
        usage=Usage(
            provider="openai",
            request_model="gpt-4.1",
            response_model="gpt-4.1-2025-04-14",
            input_tokens=1450,
            cache_read_tokens=1024,
            output_tokens=312,
        ),
        response_id="resp_68a1f2d4e6f88190b2c3d4e5f6a7b8c9",
        finish_reasons=("stop",),
    )
    assert_every_chunking(OPENAI, facts, stream, parsed)


def test_responses_api_stream_without_event_lines() -> None:
    """A proxy that forwards only the `data:` lines: the event type is read from the data."""
    facts = facts_for(OPENAI, "/v1/responses", {"model": "gpt-4.1", "stream": True})
    stream = fixture("openai_responses_stream.sse")
    bare = b"".join(line + b"\n" for line in stream.split(b"\n") if not line.startswith(b"event:"))

    expected = parse_stream(OPENAI.stream_parser(facts), [stream])
    assert parse_stream(OPENAI.stream_parser(facts), [bare]) == expected


def _final_event(kind: str, output_text: str, **response: object) -> bytes:
    body = {
        "type": kind,
        "sequence_number": 40,
        "response": {
            "id": "resp_big",
            "object": "response",
            "status": "completed",
            "instructions": "Be thorough.",
            "model": "gpt-5-2025-08-07",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": output_text}]}],
            "service_tier": "priority",
            "usage": {
                "input_tokens": 2100,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 98000,
                "output_tokens_details": {"reasoning_tokens": 61000},
                "total_tokens": 100100,
            },
            "user": None,
            "metadata": {"ticket": "OPS-1"},
            **response,
        },
    }
    return f"event: {kind}\ndata: {json.dumps(body)}\n\n".encode()


def test_responses_stream_final_event_larger_than_the_event_cap() -> None:
    """A `response.completed` carrying megabytes of output: usage is read from the kept tail."""
    facts = facts_for(OPENAI, "/v1/responses", {"model": "gpt-5", "stream": True})
    stream = _final_event("response.completed", "All findings, in detail. " * 120_000)
    assert len(stream) > 2 << 20
    expected = Usage(
        provider="openai",
        request_model="gpt-5",
        response_model="gpt-5-2025-08-07",
        input_tokens=2100,
        output_tokens=98000,
        reasoning_tokens=61000,
        service_tier="priority",
    )
    for size in (len(stream), 65536, 4093):
        chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
        parsed = parse_stream(OPENAI.stream_parser(facts), chunks)
        assert parsed.usage == expected
        assert parsed.response_id == "resp_big" and parsed.finish_reasons == ("stop",)
    whole = json.dumps(json.loads(stream[stream.index(b"{") :])["response"]).encode()
    assert OPENAI.parse_response(facts, whole).usage == expected


def test_responses_incomplete_is_still_billed() -> None:
    facts = facts_for(OPENAI, "/v1/responses", {"model": "gpt-5", "stream": True})
    stream = _final_event(
        "response.incomplete", "cut", status="incomplete", incomplete_details={"reason": "max_output_tokens"}
    )
    parsed = parse_stream(OPENAI.stream_parser(facts), [stream])
    assert parsed.usage_found and parsed.usage.output_tokens == 98000
    assert parsed.finish_reasons == ("length",)


def test_embeddings() -> None:
    facts = facts_for(OPENAI, "/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"]})
    parsed = OPENAI.parse_response(facts, fixture("openai_embeddings.json"))
    assert parsed.usage == Usage(
        provider="openai",
        operation="embeddings",
        request_model="text-embedding-3-small",
        response_model="text-embedding-3-small",
        input_tokens=17,
    )
    assert parsed.usage_found and parsed.response_id is None and parsed.usage.image_count == 0


def test_dall_e_3_two_hd_wide_images() -> None:
    facts = facts_for(
        OPENAI,
        "/v1/images/generations",
        {"model": "dall-e-3", "prompt": "lighthouse", "n": 2, "size": "1792x1024", "quality": "hd"},
    )
    assert (facts.operation, facts.image_count, facts.image_size, facts.image_quality) == (
        "image_generation",
        2,
        "1792x1024",
        "hd",
    )
    parsed = OPENAI.parse_response(facts, fixture("openai_dalle3_n2_hd.json"))
    assert parsed.usage == Usage(
        provider="openai",
        operation="image_generation",
        request_model="dall-e-3",
        image_count=2,  # len(data)
        image_size="1792x1024",
        image_quality="hd",
    )
    assert parsed.usage_found


def test_dall_e_3_api_defaults() -> None:
    facts = facts_for(OPENAI, "/v1/images/generations", {"model": "dall-e-3", "prompt": "x"})
    assert (facts.image_count, facts.image_size, facts.image_quality) == (1, "1024x1024", "standard")


def test_dall_e_2_default_size_and_no_quality() -> None:
    facts = facts_for(OPENAI, "/v1/images/generations", {"model": "dall-e-2", "prompt": "a red fox"})
    assert (facts.image_size, facts.image_quality) == ("1024x1024", None)
    parsed = OPENAI.parse_response(facts, fixture("openai_dalle2_default.json"))
    assert (parsed.usage.image_count, parsed.usage.image_size, parsed.usage.image_quality) == (1, "1024x1024", None)


@pytest.mark.parametrize(
    ("body", "model"),
    [
        ({"prompt": "x"}, "dall-e-2"),  # the API's default model
        ({"prompt": "x", "quality": "high"}, "gpt-image-1"),  # a gpt-image-1-only value
        ({"prompt": "x", "output_format": "webp"}, "gpt-image-1"),  # a gpt-image-1-only parameter
    ],
)
def test_image_request_without_model_gets_the_api_default(body: dict[str, object], model: str) -> None:
    assert facts_for(OPENAI, "/v1/images/generations", body).request_model == model


def test_gpt_image_1_tokens_and_the_size_quality_it_reports() -> None:
    facts = facts_for(
        OPENAI,
        "/v1/images/generations",
        {"model": "gpt-image-1", "prompt": "poster", "size": "auto", "quality": "auto"},
    )
    parsed = OPENAI.parse_response(facts, fixture("openai_gpt_image_1.json"))
    assert parsed.usage == Usage(
        provider="openai",
        operation="image_generation",
        request_model="gpt-image-1",
        input_tokens=50,
        output_tokens=6240,
        output_image_tokens=6240,  # every output token of gpt-image-1 is an image token
        image_count=1,
        image_size="1024x1536",  # "auto" resolved by the response
        image_quality="high",
    )


def test_gpt_image_1_image_of_megabytes_is_jumped_over_with_the_same_result() -> None:
    facts = facts_for(OPENAI, "/v1/images/generations", {"model": "gpt-image-1", "prompt": "poster"})
    recorded = json.loads(fixture("openai_gpt_image_1.json"))
    recorded["data"][0]["b64_json"] = "iVBORw0KGgo" * 200_000  # a 2.2 MB image, as gpt-image-1 sends
    whole = json.dumps(recorded).encode()
    assert OPENAI.parse_response(facts, whole) == OPENAI.parse_response(facts, fixture("openai_gpt_image_1.json"))
    assert OPENAI.parse_response(facts, whole).usage.output_image_tokens == 6240


def test_image_edit_multipart() -> None:
    body = fixture("openai_image_edit_request.multipart")
    content_type = "multipart/form-data; boundary=a6f1c0e9b3d24f7c8e5a1b2c3d4e5f60"
    facts = facts_for(OPENAI, "/v1/images/edits", body, content_type=content_type)
    assert (facts.operation, facts.request_model, facts.image_count, facts.image_size, facts.image_quality) == (
        "image_edit",
        "gpt-image-1",
        1,
        "1024x1024",
        "medium",
    )
    parsed = OPENAI.parse_response(facts, fixture("openai_gpt_image_1_edit.json"))
    assert parsed.usage == Usage(
        provider="openai",
        operation="image_edit",
        request_model="gpt-image-1",
        input_tokens=517,
        input_image_tokens=388,
        output_tokens=1056,
        output_image_tokens=1056,
        image_count=1,
        image_size="1024x1024",
        image_quality="medium",
    )


@pytest.mark.parametrize(
    "content_type", ['multipart/form-data; boundary="a6f1c0e9b3d24f7c8e5a1b2c3d4e5f60"', None], ids=["quoted", "none"]
)
def test_image_variation_multipart_fields_after_the_image(content_type: str | None) -> None:
    """Fields after a file part; the image bytes contain `name="size"` and CRLFs."""
    body = fixture("openai_image_variation_request.multipart")
    facts = facts_for(OPENAI, "/v1/images/variations", body, content_type=content_type)
    assert (facts.operation, facts.request_model, facts.image_count, facts.image_size, facts.image_quality) == (
        "image_edit",
        "dall-e-2",
        3,
        "512x512",
        None,
    )


def test_gpt_image_1_stream_with_partial_images() -> None:
    facts = facts_for(
        OPENAI, "/v1/images/generations", {"model": "gpt-image-1", "prompt": "x", "stream": True, "partial_images": 1}
    )
    image = "iVBORw0KGgo" + "A" * (1_500_000)  # a final image larger than the 1 MiB event cap
    partial = {"type": "image_generation.partial_image", "b64_json": image[:300_000], "partial_image_index": 0}
    done = {
        "type": "image_generation.completed",
        "b64_json": image,
        "created_at": 1755444420,
        "size": "1024x1024",
        "quality": "low",
        "background": "opaque",
        "output_format": "png",
        "usage": {
            "input_tokens": 14,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 14},
            "output_tokens": 272,
            "total_tokens": 286,
        },
    }
    stream = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in (partial, done))
    for size in (len(stream), 8192):
        parsed = parse_stream(OPENAI.stream_parser(facts), [stream[i : i + size] for i in range(0, len(stream), size)])
        assert parsed.usage_found
        assert parsed.usage == Usage(
            provider="openai",
            operation="image_generation",
            request_model="gpt-image-1",
            input_tokens=14,
            output_tokens=272,
            output_image_tokens=272,
            image_count=1,
            image_size="1024x1024",
            image_quality="low",
        )


def test_a_stream_given_as_a_whole_body_is_parsed_as_a_stream() -> None:
    facts = facts_for(OPENAI, "/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True})
    stream = fixture("openai_chat_stream_usage.sse")
    assert OPENAI.parse_response(facts, stream) == parse_stream(OPENAI.stream_parser(facts), [stream])


def test_service_tier_in_the_response_wins() -> None:
    facts = facts_for(OPENAI, "/v1/chat/completions", {"model": "gpt-5", "service_tier": "flex"})
    said_and_tier = (("flex", "flex"), ("priority", "priority"), ("fast", "priority"), ("scale", "default"))
    for said, tier in (*said_and_tier, ("auto", "default")):
        body = json.dumps({"model": "gpt-5", "service_tier": said, "usage": {"prompt_tokens": 1}}).encode()
        assert OPENAI.parse_response(facts, body).usage.service_tier == tier
    no_tier = OPENAI.parse_response(facts, b'{"usage": {"prompt_tokens": 1}}')
    assert no_tier.usage.service_tier == "flex"  # the request's


def test_audio_tokens() -> None:
    facts = facts_for(OPENAI, "/v1/chat/completions", {"model": "gpt-4o-audio-preview"})
    body = {
        "model": "gpt-4o-audio-preview-2025-06-03",
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 310,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 80},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 290},
        },
    }
    usage = OPENAI.parse_response(facts, json.dumps(body).encode()).usage
    assert (usage.input_tokens, usage.input_audio_tokens, usage.output_tokens, usage.output_audio_tokens) == (
        120,
        80,
        310,
        290,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models"),
        ("GET", "/v1/responses/resp_123/input_items"),
        ("GET", "/v1/chat/completions/chatcmpl-1"),
        ("POST", "/v1/responses/input_tokens"),
        ("POST", "/v1/responses/resp_123/cancel"),
        ("POST", "/v1/audio/speech"),
        ("POST", "/v1/files"),
        ("GET", "/v1/chat/completions"),
        ("DELETE", "/v1/chat/completions/chatcmpl-1"),
    ],
)
def test_requests_that_are_not_billable(method: str, path: str) -> None:
    assert OPENAI.parse_request(method, "api.openai.com", path, "application/json", b"{}") is None


def test_fetching_a_response_is_a_retrieval_billable_only_when_a_finished_background_one() -> None:
    facts = OPENAI.parse_request("GET", "api.openai.com", "/v1/responses/resp_123", None, b"")
    assert facts is not None and facts.retrieval and facts.operation == "chat"
    usage = {"input_tokens": 10, "output_tokens": 5}
    body = {"id": "resp_123", "object": "response", "model": "gpt-5", "usage": usage}

    def parsed(**fields: object) -> ParsedResponse:
        return OPENAI.parse_response(facts, json.dumps({**body, **fields}).encode())

    finished = parsed(status="completed", background=True)
    assert finished.billable and finished.billed_once_id == "resp_123"
    assert not parsed(status="in_progress", background=True, usage=None).billable
    assert not parsed(status="completed", background=False).billable
    assert not parsed(status="completed").billable  # not said to be a background one


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/v1/chat/completions", "chat"),
        ("/v1/chat/completions/", "chat"),
        ("/v1/completions", "text_completion"),
        ("/v1/responses", "chat"),
        ("/v1/embeddings?x=1", "embeddings"),
        ("/v1/images/generations", "image_generation"),
        ("/v1/images/edits", "image_edit"),
        ("/v1/images/variations", "image_edit"),
        ("/openai/deployments/d/chat/completions", "chat"),
        ("/api/v1/chat/completions", "chat"),
    ],
)
def test_operation_from_the_path(path: str, operation: str) -> None:
    assert operation_of(path) == operation


def test_an_error_chunk_fails_the_stream_however_it_is_cut() -> None:
    facts = facts_for(OPENAI, "/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True})
    delta = b'data: {"id":"c","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"Part"}}]}\n\n'
    error = b'data: {"error":{"message":"The server had an error.","type":"server_error","code":null}}\n\n'
    for chunks in chunkings(delta + delta + error):
        parsed = parse_stream(OPENAI.stream_parser(facts), chunks)
        assert parsed.error_type == "server_error" and not parsed.usage_found
    coded = b'data: {"error":{"message":"Overloaded","code":"overloaded"}}\n\n'
    assert parse_stream(OPENAI.stream_parser(facts), [delta, coded]).error_type == "overloaded"
    nameless = b'data: {"error":{"message":"?"}}\n\n'
    assert parse_stream(OPENAI.stream_parser(facts), [delta, nameless]).error_type == "stream_error"
    # content that mentions an error object is a delta (its quotes are escaped in the JSON string)
    mention = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"{\\"error\\": {}}"}}]}\n\n'
    assert parse_stream(OPENAI.stream_parser(facts), [delta, mention]).error_type is None


def test_searches_of_a_final_event_too_large_to_keep_are_counted_from_their_own_events() -> None:
    """A research response: 9 web searches among reasoning items before 1.4 MB of text. The kept head
    and tail of `response.completed` show only some; each search also came as an output item."""
    facts = facts_for(OPENAI, "/v1/responses", {"model": "gpt-5", "stream": True})
    search = {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"type": "search"}}
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "x" * 60_000}
    output = [reasoning, search, search, search] * 3 + [
        {"type": "message", "content": [{"type": "output_text", "text": "All findings. " * 100_000}]}
    ]
    response = {
        "id": "resp_r",
        "object": "response",
        "status": "completed",
        "model": "gpt-5-2025-08-07",
        "output": output,
        "usage": {"input_tokens": 6000, "output_tokens": 3000, "output_tokens_details": {"reasoning_tokens": 0}},
    }
    events = [{"type": "response.output_item.done", "output_index": 1, "item": search}] * 9
    events.append({"type": "response.completed", "response": response})
    stream = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
    assert len(stream) > 1 << 20
    bare = b"".join(line + b"\n" for line in stream.split(b"\n") if not line.startswith(b"event:"))[:-1]
    for body in (stream, bare):
        parsed = parse_stream(OPENAI.stream_parser(facts), [body[i : i + 65536] for i in range(0, len(body), 65536)])
        assert parsed.usage.web_search_requests == 9
        assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (6000, 3000)
