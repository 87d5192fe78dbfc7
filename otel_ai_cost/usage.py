"""The normalized record of one billable AI API request.

Providers build a `Usage` from the bytes of a request and its response; pricing turns it into a
`Cost`. It is built on every request, so it is a plain slots dataclass, not a validated model.

Token counts follow the GenAI semantic conventions: `input_tokens` includes cached and
cache-written tokens, `output_tokens` includes reasoning tokens. The per-modality counts
(`input_audio_tokens`, `output_image_tokens`, ...) are parts of those totals, not additions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class Operation:
    """Values of `gen_ai.operation.name`."""

    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    GENERATE_CONTENT = "generate_content"
    IMAGE_GENERATION = "image_generation"
    IMAGE_EDIT = "image_edit"


class ServiceTier:
    """How a provider processed the request; each may carry its own price."""

    DEFAULT = "default"
    BATCH = "batch"
    FLEX = "flex"
    PRIORITY = "priority"
    FAST = "fast"
    """Anthropic's fast mode (`speed: "fast"`): the same model, faster, at a premium."""


@dataclass(slots=True)
class Usage:
    provider: str
    """`gen_ai.provider.name`: openai, azure.ai.openai, anthropic, gcp.gemini, aws.bedrock, ..."""
    operation: str = Operation.CHAT
    request_model: str | None = None
    response_model: str | None = None

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_read_audio_tokens: int = 0
    """Of the cache reads, audio (Gemini): billed at the model's cached-audio price."""
    cache_write_tokens: int = 0
    """Tokens written to the prompt cache with the default (5 minute) lifetime."""
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    input_audio_tokens: int = 0
    input_image_tokens: int = 0
    input_video_tokens: int = 0
    output_audio_tokens: int = 0
    output_image_tokens: int = 0
    output_video_tokens: int = 0

    image_count: int = 0
    image_size: str | None = None
    """As the API names it, e.g. "1024x1024"; width x height in pixels."""
    image_quality: str | None = None
    image_steps: int | None = None

    web_search_requests: int = 0
    """Web searches the provider ran for the request (Anthropic's and OpenAI's web search tools),
    billed per search on top of the tokens."""
    file_search_requests: int = 0
    """File searches the provider ran for the request (OpenAI's file search tool), billed per call."""

    service_tier: str = ServiceTier.DEFAULT
    deployment: str | None = None
    """Azure OpenAI deployment name or Bedrock provisioned model, when the request named one."""
    provisioned: bool = False
    """The response says capacity bought up front served it (Vertex AI Provisioned Throughput): it
    costs nothing more, whatever the overrides file says of the model."""
    estimated: bool = False
    """The token counts are an estimate (e.g. a stream that reported no usage)."""
    provider_reported_cost: float | None = None
    """Cost in USD stated by the provider itself in the response (e.g. OpenRouter)."""
    request_time: datetime | None = None
    """When the request was sent; None means now. Selects historic prices."""

    @property
    def model(self) -> str | None:
        """The model to price: the one the provider says it ran, else the one asked for."""
        return self.response_model or self.request_model

    @property
    def has_tokens(self) -> bool:
        return self.input_tokens > 0 or self.output_tokens > 0
