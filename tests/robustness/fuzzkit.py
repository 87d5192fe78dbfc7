"""What the robustness tests fuzz: every wire protocol found in `otel_ai_cost.providers`, the endpoints
each one accepts, the recorded bodies of `tests/providers/fixtures`, and the hostile values and
transformations applied to them.

Protocols are discovered, not listed: every class of a `providers` module that has `parse_request`,
`parse_response` and `stream_parser` and can be built without arguments, so a parser added later
(Gemini, Bedrock, ...) is fuzzed without touching these tests. Its endpoints are the candidate
(host, path) pairs for which its `parse_request` returns facts.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

import otel_ai_cost.providers
from otel_ai_cost.providers.base import ParsedResponse, RequestFacts, StreamParser, WireProtocol
from otel_ai_cost.providers.routing import PROTOCOLS
from otel_ai_cost.usage import Usage

FIXTURES = Path(__file__).parent.parent / "providers" / "fixtures"

CANDIDATE_HOSTS = (
    "api.openai.com",
    "contoso.openai.azure.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "us-central1-aiplatform.googleapis.com",
    "bedrock-runtime.us-east-1.amazonaws.com",
    "api.stability.ai",
    "api.bfl.ai",
    "api.bfl.ml",
)
CANDIDATE_PATHS = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/images/variations",
    "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
    "/openai/v1/responses",
    "/v1/messages",
    "/v1beta/models/gemini-2.5-flash:generateContent",
    "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    "/v1beta/models/text-embedding-004:embedContent",
    "/v1beta/models/imagen-4.0-generate-001:predict",
    "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
    "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
    "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse",
    "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse-stream",
    "/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke",
    "/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke-with-response-stream",
    "/v2beta/stable-image/generate/core",
    "/v2beta/stable-image/generate/ultra",
    "/v2beta/stable-image/generate/sd3",
    "/v1/flux-pro-1.1",
    "/v1/flux-kontext-pro",
    "/v1/get_result?id=abc",
)
REQUEST_BODY = json.dumps(
    {
        "model": "gpt-4o-mini",
        "prompt": "a lighthouse",
        "messages": [{"role": "user", "content": "hi"}],
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 64,
    }
).encode()

TOKEN_FIELDS = tuple(name for name in Usage.__dataclass_fields__ if name.endswith("_tokens")) + ("image_count",)


@dataclass(frozen=True)
class Endpoint:
    protocol: WireProtocol
    host: str
    path: str

    @property
    def id(self) -> str:
        return f"{type(self.protocol).__name__}{self.path.split('?')[0]}"

    def facts(self, body: bytes = REQUEST_BODY, content_type: str | None = "application/json") -> RequestFacts:
        facts = self.protocol.parse_request("POST", self.host, self.path, content_type, body)
        assert facts is not None, self.id
        return facts


def _is_protocol_class(value: object, module: str) -> bool:
    return (
        inspect.isclass(value)
        and value.__module__ == module
        and all(callable(getattr(value, name, None)) for name in ("parse_request", "parse_response", "stream_parser"))
    )


@cache
def protocol_classes() -> tuple[type, ...]:
    """Every wire-protocol class of `otel_ai_cost.providers` and the router's table."""
    found: dict[str, type] = {f"{kind.__module__}.{kind.__qualname__}": kind for kind in PROTOCOLS.values()}
    for module_info in pkgutil.iter_modules(otel_ai_cost.providers.__path__):
        name = f"otel_ai_cost.providers.{module_info.name}"
        module = importlib.import_module(name)
        for value in vars(module).values():
            if _is_protocol_class(value, name):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return tuple(found[key] for key in sorted(found))


def _instance(kind: type) -> WireProtocol | None:
    try:
        return kind()  # type: ignore[no-any-return]
    except TypeError:
        return None  # needs arguments: not a protocol the router builds on its own


@cache
def endpoints() -> tuple[Endpoint, ...]:
    """Every (protocol, host, path) whose request the protocol accepts as billable."""
    found: list[Endpoint] = []
    for kind in protocol_classes():
        protocol = _instance(kind)
        if protocol is None:
            continue
        seen: set[str] = set()
        for path in CANDIDATE_PATHS:
            for host in CANDIDATE_HOSTS:
                facts = protocol.parse_request("POST", host, path, "application/json", REQUEST_BODY)
                if facts is not None and path not in seen:
                    seen.add(path)
                    found.append(Endpoint(protocol, host, path))
    return tuple(found)


def fixture_names(suffix: str) -> list[str]:
    return sorted(path.name for path in FIXTURES.glob(f"*{suffix}"))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@cache
def recorded_streams() -> tuple[tuple[str, Endpoint], ...]:
    """(SSE fixture, endpoint) pairs of each protocol's own recorded streams, found without a table:
    a fixture named `<vendor>_...` goes to the first endpoint of the protocol class named
    `<Vendor>...Protocol` whose stream parser finds usage in it."""
    pairs = []
    for name in fixture_names(".sse"):
        vendor = name.split("_", 1)[0]
        for endpoint in endpoints():
            if not type(endpoint.protocol).__name__.lower().startswith(vendor):
                continue
            if feed(endpoint.protocol.stream_parser(endpoint.facts()), [fixture(name)]).usage_found:
                pairs.append((name, endpoint))
                break
    return tuple(pairs)


def feed(parser: StreamParser, chunks: list[bytes]) -> ParsedResponse:
    for chunk in chunks:
        parser.feed(chunk)
    return parser.finish()


def cut(data: bytes, offsets: list[int]) -> list[bytes]:
    """`data` in pieces cut at `offsets` (any ints; taken modulo the length)."""
    points = sorted({offset % (len(data) + 1) for offset in offsets})
    return [data[start:end] for start, end in zip([0, *points], [*points, len(data)], strict=True)]


def assert_sane(parsed: object) -> None:
    """A ParsedResponse whose counts are non-negative ints and whose parts fit in their wholes."""
    assert isinstance(parsed, ParsedResponse), type(parsed)
    usage = parsed.usage
    assert isinstance(usage, Usage)
    for name in TOKEN_FIELDS:
        value = getattr(usage, name)
        assert type(value) is int and 0 <= value <= 4_000_000_000, (name, value)
    assert usage.cache_read_tokens + usage.cache_write_tokens + usage.cache_write_1h_tokens <= usage.input_tokens
    assert usage.reasoning_tokens <= usage.output_tokens
    assert usage.image_steps is None or (type(usage.image_steps) is int and usage.image_steps >= 0)
    assert type(parsed.usage_found) is bool and type(parsed.content_events) is int and parsed.content_events >= 0
    for value in (usage.response_model, usage.request_model, parsed.response_id, *parsed.finish_reasons):
        assert value is None or (isinstance(value, str) and 0 < len(value) <= 256), value


# --- SSE framing variants: the same events, written the other ways the format allows ---


def sse_events(stream: bytes) -> list[tuple[str | None, bytes]]:
    """(event name, data) of a fixture written with LF line ends and one `data:` line per event."""
    events = []
    for block in stream.split(b"\n\n"):
        name: str | None = None
        data: bytes | None = None
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data = line[5:].removeprefix(b" ")
        if data is not None:
            events.append((name, data))
    return events


def write_sse(events: list[tuple[str | None, bytes]], *, multiline: bool, newline: bytes = b"\n") -> bytes:
    """Events written back; with `multiline`, JSON data spread over one `data:` line per JSON line
    (the reader joins them with LF, which JSON reads as whitespace)."""
    out = []
    for name, data in events:
        lines = [data]
        if multiline and data.startswith(b"{"):
            lines = json.dumps(json.loads(data), indent=1).encode().split(b"\n")
        block = [b"event: " + name.encode()] if name else []
        block += [b"data: " + line for line in lines]
        out.append(newline.join(block) + newline + newline)
    return b"".join(out)


def framings(stream: bytes) -> dict[str, bytes]:
    """The recorded stream with CRLF / CR line ends, comments and keep-alives, multi-line data, and
    without its final blank line (the connection closed right after the last event)."""
    events = sse_events(stream)
    multiline = write_sse(events, multiline=True)
    commented = b": connected\n\n" + stream.replace(b"\n\n", b"\n: ping\n\n")
    return {
        "lf": stream,
        "crlf": stream.replace(b"\n", b"\r\n"),
        "cr": stream.replace(b"\n", b"\r"),
        "comments-crlf": commented.replace(b"\n", b"\r\n"),
        "multiline": multiline,
        "multiline-crlf": write_sse(events, multiline=True, newline=b"\r\n"),
        "multiline-cr": write_sse(events, multiline=True, newline=b"\r"),
        "no-final-newline": stream.rstrip(b"\n"),
        "no-final-newline-crlf": stream.rstrip(b"\n").replace(b"\n", b"\r\n"),
        "multiline-no-final-newline": multiline.rstrip(b"\n"),
    }


# --- hostile JSON values ---

HOSTILE_VALUES: tuple[Any, ...] = (
    -1,
    -(2**63),
    2**63,
    2**64 + 1,
    10**30,
    2**1000,
    1.5,
    -0.0,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "123",
    "-5",
    "²",
    "",
    "x" * 5000,
    None,
    True,
    False,
    [],
    [1, 2, 3],
    {},
    {"prompt_tokens": -1},
    [{"usage": {"prompt_tokens": "9"}}],
)


def tree_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node of a JSON value (keys and indexes), the root first."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += tree_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += tree_paths(child, (*prefix, index))
    return paths


def replace_at(value: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {key: replace_at(child, rest, replacement) if key == head else child for key, child in value.items()}
    return [replace_at(child, rest, replacement) if index == head else child for index, child in enumerate(value)]


def mutate(value: Any, choices: list[tuple[int, Any]], *, root: bool = True) -> Any:
    """`value` with the nodes picked by `choices` (node number modulo the node count) replaced;
    with `root=False` the value itself is kept (an object stays an object)."""
    for pick, replacement in choices:
        paths = tree_paths(value)[0 if root else 1 :]
        if paths:
            value = replace_at(value, paths[pick % len(paths)], replacement)
    return value


# --- whole response bodies as a broken server or proxy sends them ---

_hostile = st.sampled_from(HOSTILE_VALUES)
_mutations = st.lists(st.tuples(st.integers(min_value=0, max_value=1000), _hostile), min_size=1, max_size=3)


@st.composite
def garbage(draw: st.DrawFn, whole: Any, stream: Callable[[Any], bytes], events: list[Any]) -> bytes:
    """A body as a broken server or proxy might send it: mutated, truncated, or not JSON at all."""
    kind = draw(st.sampled_from(["mutated", "truncated", "bytes", "stream-mutated", "stream-truncated", "valid"]))
    if kind == "mutated":
        return json.dumps(mutate(whole, draw(_mutations))).encode()
    if kind == "truncated":
        body = json.dumps(whole).encode()
        return body[: draw(st.integers(min_value=0, max_value=len(body)))]
    if kind == "bytes":
        return draw(st.binary(max_size=200) | st.sampled_from([b"", b"null", b"[]", b"<html>502 Bad Gateway</html>"]))
    if kind == "valid":
        return json.dumps(whole).encode()
    index = draw(st.integers(min_value=0, max_value=len(events) - 1))
    mutated = list(events)
    if isinstance(mutated[index], tuple):
        mutated[index] = (mutated[index][0], mutate(mutated[index][1], draw(_mutations), root=False))
    else:
        mutated[index] = mutate(mutated[index], draw(_mutations), root=False)
    body = stream(mutated)
    if kind == "stream-truncated":
        body = body[: draw(st.integers(min_value=0, max_value=len(body)))]
    return body
