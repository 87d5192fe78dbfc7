"""A process forked while a stream is open (a gunicorn master that made a call, a job runner) holds
a copy of the call: the child ending it, when it closes or frees the response, or at exit, must
neither export a second span with the parent's span id nor count the request again."""

from __future__ import annotations

import gc
import os

import httpx2
import openai
import pytest
from robustkit import Instrumented, Pieces

STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18",'
    b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}\n\n'
    b'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n'
    b'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[],'
    b'"usage":{"prompt_tokens":1000,"completion_tokens":200,"total_tokens":1200}}\n\n'
    b"data: [DONE]\n\n"
)
# gpt-4o-mini: input 0.15, output 0.60 USD per 1M: 1000 x 0.15 + 200 x 0.60 = 150 + 120 = 270 per 1M
COST = 0.00027


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_does_not_finish_the_parents_open_stream(instrumented: Instrumented) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, stream=Pieces([STREAM]), headers={"content-type": "text/event-stream"})

    client = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[], stream=True, stream_options={"include_usage": True}
    )
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reads the stream it holds a copy of, closes it, frees it
        try:
            list(stream)
            stream.close()
            del stream
            gc.collect()
            ended = len(instrumented.spans.get_finished_spans())
            requests = sum(point.value for point in instrumented.points("ai.cost.requests"))
            os.write(write, f"{ended} {requests}".encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    seen_in_child = os.read(read, 100).decode()
    os.close(read)
    assert status == 0
    assert seen_in_child == "0 0"  # no span ended, no request counted in the child

    chunks = list(stream)  # the parent's own copy of the stream
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices] == [None, "stop"]
    spans = instrumented.spans.get_finished_spans()
    assert len(spans) == 1
    assert dict(spans[0].attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(COST)
