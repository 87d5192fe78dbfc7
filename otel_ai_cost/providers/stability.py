"""Stability AI's REST API v2beta (api.stability.ai): one image billed per accepted POST.

Every billable endpoint takes a multipart/form-data request and answers with the image itself
(`Accept: image/*`), with JSON holding it base64-encoded (`{"image", "finish_reason", "seed"}`),
or, for the asynchronous ones, with `{"id"}` to poll (the polling GETs of `/v2beta/results/{id}`
are not billable). The platform bills credits per model, whatever the aspect ratio:

| path under `/v2beta/stable-image/` | operation | model priced |
|---|---|---|
| `generate/ultra` | image_generation | `stable-image-ultra` |
| `generate/core` | image_generation | `stable-image-core` |
| `generate/sd3` | image_generation | the form's `model` (`sd3.5-large` when absent) |
| `control/{name}` | image_edit | `stable-image-control-{name}` |
| `edit/{name}` | image_edit | `stable-image-edit-{name}` |
| `upscale/{name}` | image_edit | `stable-image-upscale-{name}` |

Only the `model` form field is read; the image parts are skipped unread (see `multipart`).
"""

from __future__ import annotations

import re

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import text
from otel_ai_cost.providers.base import (
    NamedProtocol,
    ParsedResponse,
    RequestFacts,
    StreamParser,
    WholeBodyParser,
    is_post,
    path_after,
)
from otel_ai_cost.providers.multipart import form_fields
from otel_ai_cost.usage import Operation

STABILITY_AI = "stability_ai"
DEFAULT_SD3_MODEL = "sd3.5-large"
"""What `/generate/sd3` runs when the form names no model (the API's documented default)."""

_PREFIX = "/v2beta/stable-image/"
_GENERATE_MODELS = {"ultra": "stable-image-ultra", "core": "stable-image-core"}
_EDIT_FAMILIES = frozenset({"control", "edit", "upscale"})
_FORM_FIELDS = frozenset({"model"})
_FINISH_REASON = re.compile(rb'"finish_reason"\s*:\s*"([A-Za-z_]{1,64})"')
"""Read without parsing the base64 image around it (base64 has no quotes)."""
_SMALL_JSON = 4096
"""An asynchronous job's `{"id": ...}` is parsed whole; an image response never is."""


class StabilityProtocol(NamedProtocol):
    """api.stability.ai `/v2beta/stable-image/...`; the synchronous and asynchronous endpoints."""

    default_provider = STABILITY_AI

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        if not is_post(method):
            return None
        endpoint = path_after(path, _PREFIX)
        if endpoint is None:
            return None
        family, _, name = endpoint.partition("/")
        if not name or "/" in name:
            return None
        if family == "generate":
            operation = Operation.IMAGE_GENERATION
            model = _GENERATE_MODELS.get(name)
            if name == "sd3":
                model = text(_fields(content_type, body).get("model")) or DEFAULT_SD3_MODEL
            elif model is None:
                model = f"stable-image-{name}"
        elif family in _EDIT_FAMILIES:
            operation = Operation.IMAGE_EDIT
            model = f"stable-image-{family}-{name}"
        else:
            return None
        return RequestFacts(provider=self.provider, operation=operation, request_model=model[:128], image_count=1)

    def parse_response(self, facts: RequestFacts, body: bytes) -> ParsedResponse:
        usage = facts.usage()
        usage.image_count = 1
        parsed = ParsedResponse(usage=usage)
        if body[:1] != b"{":
            return parsed  # the image bytes themselves
        match = _FINISH_REASON.search(body)
        if match is not None:
            parsed.finish_reasons = (match.group(1).decode("ascii").lower(),)
        if len(body) <= _SMALL_JSON:
            data = _json.load(body) or {}
            parsed.response_id = text(data.get("id"))
        return parsed

    def stream_parser(self, facts: RequestFacts) -> StreamParser:
        return WholeBodyParser(self, facts)  # Stability answers no SSE


def _fields(content_type: str | None, body: bytes) -> dict[str, object]:
    if (content_type or "").lower().startswith("multipart/") or body.startswith(b"--"):
        return dict(form_fields(body, content_type, _FORM_FIELDS))
    return _json.load(body) or {}
