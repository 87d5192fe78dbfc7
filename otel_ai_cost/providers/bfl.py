"""Black Forest Labs' FLUX API (api.bfl.ai, api.bfl.ml and the regional api.eu/us.bfl.ai).

`POST /v1/{model}` (`/v1/flux-pro-1.1`, `/v1/flux-dev`, `/v1/flux-kontext-pro`, `/v1/flux-2-pro`,
...) submits one image job with a JSON body and is billed when accepted; the answer is
`{"id", "polling_url"}` and, on the current API, `cost`: the credits charged. The GETs of
`polling_url` (`/v1/get_result`) are not billable.

When the response says its `cost`, that is the price (converted to USD with the image table's
`usd_per_credit` for black_forest_labs); otherwise the image table prices the model, per image or
per output megapixel, from the request's `width` x `height` (and `steps`).
"""

from __future__ import annotations

import functools

from otel_ai_cost.providers import _json
from otel_ai_cost.providers._json import amount, text
from otel_ai_cost.providers.base import (
    NamedProtocol,
    ParsedResponse,
    RequestFacts,
    StreamParser,
    WholeBodyParser,
    is_post,
    path_after,
)
from otel_ai_cost.usage import Operation

BLACK_FOREST_LABS = "black_forest_labs"
_PREFIX = "/v1/"
_EDIT_MODELS = ("flux-pro-1.0-fill", "flux-pro-1.0-expand", "flux-pro-1.0-canny", "flux-pro-1.0-depth")
"""Endpoints that change a given image rather than generate one from text."""
_MAX_SIDE = 16384
_MAX_CREDITS = 100_000.0
"""A `cost` above this is not believable for one image job and is ignored."""


class BFLProtocol(NamedProtocol):
    """The FLUX API of Black Forest Labs."""

    default_provider = BLACK_FOREST_LABS

    def parse_request(
        self, method: str, host: str, path: str, content_type: str | None, body: bytes
    ) -> RequestFacts | None:
        if not is_post(method):
            return None
        model = path_after(path, _PREFIX)
        if model is None or not model.startswith("flux") or "/" in model:
            return None  # get_result, credits, finetune management, ...
        fields = _json.load(body) or {}
        facts = RequestFacts(
            provider=self.provider,
            operation=Operation.IMAGE_EDIT if model.startswith(_EDIT_MODELS) else Operation.IMAGE_GENERATION,
            request_model=model[:128],
            image_count=1,
        )
        width, height = _side(fields.get("width")), _side(fields.get("height"))
        if width and height:
            facts.image_size = f"{width}x{height}"
        steps = fields.get("steps")
        if type(steps) is int and 0 < steps <= 1000:
            facts.image_steps = steps
        return facts

    def parse_response(self, facts: RequestFacts, body: bytes) -> ParsedResponse:
        usage = facts.usage()
        data = _json.load(body) or {}
        credits = amount(data.get("cost"), _MAX_CREDITS)
        rate = usd_per_credit(self.provider) if credits is not None else None
        if credits is not None and rate is not None:
            usage.provider_reported_cost = credits * rate
        return ParsedResponse(usage=usage, response_id=text(data.get("id")))

    def stream_parser(self, facts: RequestFacts) -> StreamParser:
        return WholeBodyParser(self, facts)


@functools.cache
def usd_per_credit(provider: str) -> float | None:
    """USD per credit of `provider` in the bundled image table (BFL: $0.01), None if it says none."""
    from otel_ai_cost.pricing.image_catalog import load_image_table

    try:
        entries = load_image_table().models
    except Exception:
        return None
    for entry in entries:
        if entry.provider == provider and entry.usd_per_credit is not None:
            return entry.usd_per_credit
    return None


def _side(value: object) -> int | None:
    return value if type(value) is int and 0 < value <= _MAX_SIDE else None
