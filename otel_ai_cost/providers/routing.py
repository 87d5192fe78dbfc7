"""Which wire protocol, if any, an HTTP request speaks: by host, then by path.

Built in:

- api.openai.com, `/v1/...`: OpenAI (`openai`)
- `*.openai.azure.com`, `*.cognitiveservices.azure.com`, `*.services.ai.azure.com`, API
  Management's `*.azure-api.net` (and the Azure Government / China clouds), any path with
  `/openai/` (`/openai/deployments/{name}/...`, `/openai/v1/...`, also behind an API Management
  prefix): Azure OpenAI (`azure.ai.openai`); paths with `/models/` (the Azure AI Foundry Models
  inference API, `/models/chat/completions?api-version=...`, OpenAI-compatible, the model in the
  body): `azure.ai.inference`
- api.anthropic.com, `/v1/...`: Anthropic (`anthropic`)
- generativelanguage.googleapis.com: Gemini (`gcp.gemini`); aiplatform.googleapis.com and
  `{region}-aiplatform.googleapis.com`, `aiplatform.{us,eu}.rep.googleapis.com`: Vertex AI
  (`gcp.vertex_ai`); paths `.../{model}:{method}` (their mTLS hosts too); Claude on Vertex AI
  (`.../publishers/anthropic/models/{model}:rawPredict`) goes to the Anthropic parser. Their
  OpenAI-compatible paths (`/v1beta/openai/...`, `.../endpoints/openapi/...`) go to the OpenAI
  parser with the same provider name.
- OpenAI-compatible providers, by host and path prefix (`HOSTED`): api.groq.com `/openai/v1`
  (`groq`), api.mistral.ai `/v1` (`mistral_ai`), api.deepseek.com with or without `/v1`
  (`deepseek`), api.x.ai `/v1` (`x_ai`), api.together.xyz `/v1` (`together_ai`), api.fireworks.ai
  `/inference/v1` (`fireworks`), api.perplexity.ai (`perplexity`), openrouter.ai `/api/v1`
  (`openrouter`)
- Amazon Bedrock Runtime over HTTP (`AnthropicBedrock`, raw HTTP clients; boto3 has its own
  hook): `bedrock-runtime[-fips].{region}.amazonaws.com` (also `.api.aws` dual-stack and
  `.amazonaws.com.cn`), `/model/{id}/invoke|invoke-with-response-stream|converse|converse-stream`
  (`aws.bedrock`), and its OpenAI-compatible `/openai/v1/...`; `bedrock-mantle.{region}.api.aws`
  (the anthropic SDK's `AnthropicBedrockMantle`): `/anthropic/v1/...` Anthropic Messages,
  `/v1/...` and `/openai/v1/...` OpenAI-compatible (`aws.bedrock`)
- image APIs: api.stability.ai `/v2beta` (`stability_ai`); api.bfl.ai, api.bfl.ml and the
  regional `api.*.bfl.ai`, `/v1` (`black_forest_labs`)

Gateways and self-hosted servers are added with an endpoint map: base URL -> protocol name,
optionally with the provider name to report (`openai:vllm`). The longest matching base path
wins, and an endpoint wins over the built-in routes. A base URL without a port (or with 80 or
443) matches every port of its host; one with another port matches that port, and also a
request whose port is not known (a host given without one).

`route` runs on every HTTP request of the application, most of them not to an AI API, so the
answer for a host is computed once and kept (per host string, up to `HOST_CACHE_SIZE` hosts);
a request to any other host costs one dict lookup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from otel_ai_cost.providers.anthropic import AnthropicProtocol
from otel_ai_cost.providers.anthropic_vertex import VertexAnthropicProtocol, is_anthropic_publisher
from otel_ai_cost.providers.base import NamedProtocol, WireProtocol
from otel_ai_cost.providers.bedrock import BEDROCK
from otel_ai_cost.providers.bedrock_http import BedrockHTTPProtocol
from otel_ai_cost.providers.bfl import BFLProtocol
from otel_ai_cost.providers.gemini import GEMINI, VERTEX_AI, GeminiProtocol
from otel_ai_cost.providers.openai import AZURE_AI_INFERENCE, AzureOpenAIProtocol, OpenAIProtocol
from otel_ai_cost.providers.stability import StabilityProtocol

ENV_VAR = "OTEL_AI_COST_ENDPOINTS"
PROTOCOLS: dict[
    str,
    type[OpenAIProtocol | AnthropicProtocol | GeminiProtocol | StabilityProtocol | BFLProtocol | BedrockHTTPProtocol],
] = {
    "openai": OpenAIProtocol,
    "azure": AzureOpenAIProtocol,
    "anthropic": AnthropicProtocol,
    "gemini": GeminiProtocol,
    "stability": StabilityProtocol,
    "bfl": BFLProtocol,
    "bedrock": BedrockHTTPProtocol,
}
HOST_CACHE_SIZE = 4096
_AZURE_SUFFIXES = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
    ".azure-api.net",
    ".openai.azure.us",  # Azure Government
    ".cognitiveservices.azure.us",
    ".openai.azure.cn",  # Azure China
    ".cognitiveservices.azure.cn",
)
_PROVIDER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")

OPENAI_API = OpenAIProtocol()
AZURE_OPENAI_API = AzureOpenAIProtocol()
AZURE_AI_INFERENCE_API = AzureOpenAIProtocol(AZURE_AI_INFERENCE)
ANTHROPIC_API = AnthropicProtocol()
BFL_API = BFLProtocol()
BEDROCK_API = BedrockHTTPProtocol()
_BEDROCK_PREFIXES = ("bedrock-runtime.", "bedrock-runtime-fips.")
_AWS_SUFFIXES = (".amazonaws.com", ".api.aws", ".amazonaws.com.cn")
"""AWS's DNS suffixes: commercial and GovCloud, dual-stack, China."""
BEDROCK_ANTHROPIC_API = AnthropicProtocol(BEDROCK)
BEDROCK_OPENAI_API = OpenAIProtocol(BEDROCK)
HOSTED: dict[str, tuple[str, WireProtocol]] = {
    "api.openai.com": ("/v1/", OPENAI_API),
    "api.anthropic.com": ("/v1/", ANTHROPIC_API),
    "api.groq.com": ("/openai/v1/", OpenAIProtocol("groq")),
    "api.mistral.ai": ("/v1/", OpenAIProtocol("mistral_ai")),
    "api.deepseek.com": ("/", OpenAIProtocol("deepseek")),  # documented with and without /v1
    "api.x.ai": ("/v1/", OpenAIProtocol("x_ai")),
    "api.together.xyz": ("/v1/", OpenAIProtocol("together_ai")),
    "api.fireworks.ai": ("/inference/v1/", OpenAIProtocol("fireworks")),
    "api.perplexity.ai": ("/", OpenAIProtocol("perplexity")),
    "openrouter.ai": ("/api/v1/", OpenAIProtocol("openrouter")),
    "api.stability.ai": ("/v2beta/", StabilityProtocol()),
}
"""Built-in hosts served by one parser under one path prefix: host -> (prefix, parser). Hosts
matched by pattern (Azure, Google, AWS, BFL) are in `_builtin`."""
GEMINI_API = GeminiProtocol(GEMINI)
VERTEX_AI_API = GeminiProtocol(VERTEX_AI)
GEMINI_OPENAI_API = OpenAIProtocol(GEMINI)
VERTEX_AI_OPENAI_API = OpenAIProtocol(VERTEX_AI)
VERTEX_AI_ANTHROPIC_API = VertexAnthropicProtocol()


def builtin_provider_names() -> frozenset[str]:
    """The gen_ai.provider.name values the built-in routes report (an endpoint map adds its own)."""
    parsers = [
        OPENAI_API,
        AZURE_OPENAI_API,
        AZURE_AI_INFERENCE_API,
        ANTHROPIC_API,
        BFL_API,
        BEDROCK_API,
        GEMINI_API,
        VERTEX_AI_API,
        *(parser for _, parser in HOSTED.values()),
    ]
    return frozenset(parser.provider for parser in parsers if isinstance(parser, NamedProtocol))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One entry of an endpoint map, parsed."""

    host: str
    port: int | None
    prefix: str
    """The base path without its trailing slash ("" for the whole host)."""
    protocol: str
    provider: str | None
    """The provider name to report; None means the protocol's own (openai, azure.ai.openai, anthropic)."""

    def parser(self) -> WireProtocol:
        kind = PROTOCOLS[self.protocol]
        return kind(self.provider) if self.provider else kind()

    def matches(self, port: int | None, path: str) -> bool:
        if self.port is not None and port is not None and port != self.port:
            return False
        prefix = self.prefix
        return not prefix or (path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] in "/?"))


class _Rule:
    """How the paths of one host are routed."""

    __slots__ = ("endpoints", "builtin", "port")

    def __init__(self, endpoints: list[tuple[Endpoint, WireProtocol]], builtin: str | None, port: int | None) -> None:
        self.endpoints = endpoints
        self.builtin = builtin
        self.port = port

    def match(self, path: str) -> WireProtocol | None:
        for endpoint, parser in self.endpoints:
            if endpoint.matches(self.port, path):
                return parser
        builtin = self.builtin
        hosted = HOSTED.get(builtin) if builtin else None
        if hosted is not None:
            return hosted[1] if path.startswith(hosted[0]) else None
        if builtin == "azure":
            if "/openai/" in path:
                return AZURE_OPENAI_API
            return AZURE_AI_INFERENCE_API if "/models/" in path else None
        if builtin == "gemini":
            return GEMINI_OPENAI_API if "/openai/" in path else GEMINI_API
        if builtin == "vertex":
            if is_anthropic_publisher(path):
                return VERTEX_AI_ANTHROPIC_API
            return VERTEX_AI_OPENAI_API if "/endpoints/openapi/" in path else VERTEX_AI_API
        if builtin == "bfl":
            return BFL_API if path.startswith("/v1/") else None
        if builtin == "bedrock":
            if path.startswith("/model/"):
                return BEDROCK_API
            return BEDROCK_OPENAI_API if path.startswith("/openai/v1/") else None
        if builtin == "bedrock-mantle":
            if path.startswith("/anthropic/v1/"):
                return BEDROCK_ANTHROPIC_API
            return BEDROCK_OPENAI_API if path.startswith(("/v1/", "/openai/v1/")) else None
        return None


_NO_ROUTE = _Rule([], None, None)
"""The rule of every host that is no AI API."""


class Router:
    """Routes requests with the built-in hosts plus an endpoint map (validated here: ValueError)."""

    def __init__(self, endpoints: Mapping[str, str] | None = None) -> None:
        self._endpoints: dict[str, list[Endpoint]] = {}
        for url, value in (endpoints or {}).items():
            try:
                endpoint = parse_endpoint(url, value)
            except ValueError as exc:
                raise ValueError(f"endpoint {url!r}={value!r}: {exc}") from None
            self._endpoints.setdefault(endpoint.host, []).append(endpoint)
        for entries in self._endpoints.values():
            entries.sort(key=lambda entry: len(entry.prefix), reverse=True)
        self._parsers: dict[Endpoint, WireProtocol] = {}
        self._hosts: dict[str, _Rule] = {}

    def route(self, host: str, path: str, port: int | None = None) -> WireProtocol | None:
        """The parser for a request to `host` ("name" or "name:port") and `path`, or None."""
        if port is not None:
            host = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
        hosts = self._hosts
        rule = hosts.get(host)
        if rule is None:
            rule = self._rule(host)
            if len(hosts) >= HOST_CACHE_SIZE:
                hosts.clear()
            hosts[host] = rule
        if rule is _NO_ROUTE:
            return None
        return rule.match(path)

    def _rule(self, host: str) -> _Rule:
        name, port = _split_host(host)
        endpoints = [(entry, self._parser(entry)) for entry in self._endpoints.get(name, ())]
        builtin = _builtin(name)
        if not endpoints and builtin is None:
            return _NO_ROUTE
        return _Rule(endpoints, builtin, port)

    def _parser(self, entry: Endpoint) -> WireProtocol:
        parser = self._parsers.get(entry)
        if parser is None:
            parser = self._parsers[entry] = entry.parser()
        return parser


def _builtin(name: str) -> str | None:
    if name in HOSTED:
        return name
    if name.endswith(_AZURE_SUFFIXES):
        return "azure"
    if name in ("generativelanguage.googleapis.com", "generativelanguage.mtls.googleapis.com"):
        return "gemini"
    if (
        name in ("aiplatform.googleapis.com", "aiplatform.mtls.googleapis.com")
        or name.endswith(("-aiplatform.googleapis.com", "-aiplatform.mtls.googleapis.com"))  # {region}-aiplatform
        or (name.startswith("aiplatform.") and name.endswith(".rep.googleapis.com"))  # aiplatform.{us,eu}.rep
    ):
        return "vertex"
    if name.startswith(_BEDROCK_PREFIXES) and name.endswith(_AWS_SUFFIXES):  # bedrock-runtime.{region}...
        return "bedrock"
    if name.startswith("bedrock-mantle.") and name.endswith(_AWS_SUFFIXES):
        return "bedrock-mantle"
    if name.startswith("api.") and name.endswith((".bfl.ai", ".bfl.ml")):  # api.bfl.ai, api.eu.bfl.ai, ...
        return "bfl"
    return None


_DEFAULT = Router()
_routers: dict[int, tuple[Mapping[str, str], dict[str, str], Router]] = {}


def route(
    host: str, path: str, endpoints: Mapping[str, str] | None = None, *, port: int | None = None
) -> WireProtocol | None:
    """The parser for a request, or None when it goes to no known AI API. Never raises.

    `host` is the request's host name, optionally "name:port"; `port` (e.g. httpx's `url.port`,
    None for the scheme's default) may be given instead.

    `endpoints` maps base URLs of gateways and self-hosted servers to protocol names (see
    `parse_endpoint_map`); it is compiled once per mapping object (and again if it changes).
    Invalid entries are ignored here: validate them up front with `parse_endpoint_map` or `Router`.
    """
    if not endpoints:
        return _DEFAULT.route(host, path, port)
    cached = _routers.get(id(endpoints))
    if cached is None or cached[0] is not endpoints or cached[1] != endpoints:
        snapshot = dict(endpoints)
        router = Router(_valid_entries(snapshot))
        if len(_routers) >= 64:
            _routers.clear()
        cached = _routers[id(endpoints)] = (endpoints, snapshot, router)
    return cached[2].route(host, path, port)


def _valid_entries(entries: Mapping[str, str]) -> dict[str, str]:
    valid: dict[str, str] = {}
    for url, value in entries.items():
        try:
            parse_endpoint(url, value)
        except (ValueError, TypeError):
            continue
        valid[url] = value
    return valid


def parse_endpoint_map(text: str) -> dict[str, str]:
    """`OTEL_AI_COST_ENDPOINTS` ("URL=PROTOCOL[:PROVIDER],...") as a mapping for `route`.

    e.g. "http://127.0.0.1:8080/v1=openai:vllm,https://gw.corp/anthropic=anthropic". Raises
    ValueError naming the first entry that is not valid.
    """
    endpoints: dict[str, str] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        url, equals, value = entry.rpartition("=")
        url, value = url.strip(), value.strip()
        if not equals or not url:
            raise ValueError(f"{ENV_VAR}: entry {_shown(entry)!r} is not URL=PROTOCOL (protocols: {_names()})")
        try:
            parse_endpoint(url, value)
        except ValueError as exc:
            raise ValueError(f"{ENV_VAR}: entry {_shown(url) + '=' + value!r}: {exc}") from None
        endpoints[url] = value
    return endpoints


def parse_endpoint(url: str, value: str) -> Endpoint:
    """One endpoint-map entry: base URL ("http://host:port/path" or "host[:port][/path]") and
    "PROTOCOL[:PROVIDER]". Raises ValueError saying what is wrong."""
    if not isinstance(url, str) or not isinstance(value, str):
        raise ValueError("the URL and the protocol must be strings")
    protocol, named, provider = value.strip().partition(":")
    protocol = protocol.strip().lower()
    provider = provider.strip()
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r} (protocols: {_names()})")
    if named and (not provider or not set(provider) <= _PROVIDER_CHARS):
        raise ValueError(f"provider name {provider!r} must be letters, digits, '.', '_' or '-'")
    stripped = url.strip()
    scheme = ""
    if "://" in stripped:
        scheme = stripped.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"URL scheme {scheme!r} is not http or https")
    try:
        parts = urlsplit(stripped if scheme else "//" + stripped)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"URL {_shown(url)!r} is not valid: {exc}") from None
    host = (parts.hostname or "").rstrip(".")
    if not host or parts.query or parts.fragment or parts.username is not None:
        raise ValueError(f"URL {_shown(url)!r} must be [scheme://]host[:port][/path] with no query or credentials")
    if port is not None and scheme and port == (443 if scheme == "https" else 80):
        port = None  # the scheme's default port: the transport may or may not write it
    elif port in (80, 443) and not scheme:
        port = None
    prefix = parts.path.rstrip("/")
    return Endpoint(host=host, port=port, prefix=prefix, protocol=protocol, provider=provider or None)


def _split_host(host: str) -> tuple[str, int | None]:
    """("name", port) from "Name:port", "[::1]:8080" or "name"; the name lower-cased."""
    host = host.strip().lower()
    port: int | None = None
    if host.startswith("["):
        end = host.find("]")
        if end > 0:
            rest = host[end + 1 :]
            if rest.startswith(":") and rest[1:].isdigit():
                port = int(rest[1:])
            return host[1:end], port
    elif host.count(":") == 1:
        name, _, digits = host.partition(":")
        if digits.isdigit():
            port = int(digits)
        host = name
    return host.rstrip("."), port


def _names() -> str:
    return ", ".join(PROTOCOLS)


def _shown(url: str) -> str:
    """`url` for an error message, without what may be a secret: user info, query, fragment."""
    url = _USER_INFO.sub("***@", url)
    cut = min((at for at in (url.find("?"), url.find("#")) if at >= 0), default=-1)
    return url if cut < 0 else url[:cut] + "?***"


_USER_INFO = re.compile(r"(?<=://)[^/@\s]*@|^[^/@:\s]*:[^/@\s]*@")
