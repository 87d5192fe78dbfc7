"""Image edits and variations through the real openai SDK, which sends their multipart body as a
stream (the image may be a file object): the model, size and count are read from its text fields,
and the image is left for the SDK to send, read once.

Prices (OpenAI's pricing page): gpt-image-1 text input $5, image input $10, image output $40 per
1M tokens; dall-e-2 per image $0.016 at 256x256, $0.018 at 512x512, $0.020 at 1024x1024.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import openai
import pytest

if TYPE_CHECKING:
    from .conftest import Telemetry

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
GPT_IMAGE_EDIT = {
    "created": 1713833628,
    "data": [{"b64_json": "iVBORw0KGgo="}],
    "background": "opaque",
    "output_format": "png",
    "quality": "high",
    "size": "1024x1024",
    "usage": {
        "total_tokens": 4660,
        "input_tokens": 500,
        "output_tokens": 4160,
        "input_tokens_details": {"text_tokens": 50, "image_tokens": 450},
    },
}


def image(name: str = "cat.png") -> tuple[str, io.BytesIO, str]:
    return (name, io.BytesIO(PNG), "image/png")


def serving(bodies_seen: list[bytes], images: int = 0) -> openai.OpenAI:
    def respond(request: httpx2.Request) -> httpx2.Response:
        bodies_seen.append(request.read())
        if images:
            return httpx2.Response(200, json={"created": 1, "data": [{"url": "https://x.test/i.png"}] * images})
        return httpx2.Response(200, json=GPT_IMAGE_EDIT)

    return openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=httpx2.MockTransport(respond))
    )


def test_gpt_image_1_edit_is_priced_by_its_tokens(telemetry: Telemetry) -> None:
    seen: list[bytes] = []
    result = serving(seen).images.edit(
        model="gpt-image-1", image=image(), prompt="add a hat", quality="high", size="1024x1024"
    )
    assert result.data is not None and result.data[0].b64_json == "iVBORw0KGgo="
    assert PNG in seen[0]  # the image went out whole: the SDK read it, we did not
    attrs = dict(telemetry.one_span().attributes or {})
    assert attrs["gen_ai.request.model"] == "gpt-image-1"
    # 50 text x 5 + 450 image x 10 + 4160 output x 40 = 250 + 4500 + 166400 = 171150 per 1M
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.17115)


@pytest.mark.parametrize(
    ("size", "n", "expected"),
    [("256x256", 2, 0.032), ("512x512", 3, 0.054)],  # 2 x $0.016; 3 x $0.018
)
def test_dall_e_2_edit_has_its_size_and_count(telemetry: Telemetry, size: str, n: int, expected: float) -> None:
    seen: list[bytes] = []
    serving(seen, images=n).images.edit(model="dall-e-2", image=image(), prompt="add a hat", size=size, n=n)  # type: ignore[arg-type]
    attrs = dict(telemetry.one_span().attributes or {})
    assert (attrs["ai.image.count"], attrs["ai.image.size"]) == (n, size)
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(expected)


def test_dall_e_2_variation(telemetry: Telemetry) -> None:
    seen: list[bytes] = []
    with pytest.warns(DeprecationWarning):
        serving(seen, images=3).images.create_variation(model="dall-e-2", image=image(), size="512x512", n=3)
    attrs = dict(telemetry.one_span().attributes or {})
    assert (attrs["gen_ai.operation.name"], attrs["ai.image.size"]) == ("image_edit", "512x512")
    assert attrs["gen_ai.usage.cost.amount"] == pytest.approx(0.054)  # 3 x $0.018


def test_legacy_httpx_client_edit(telemetry: Telemetry) -> None:
    def respond(request: Any) -> httpx.Response:
        return httpx.Response(200, json={"created": 1, "data": [{"url": "u"}, {"url": "v"}]})

    client = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx.Client(transport=httpx.MockTransport(respond))
    )
    client.images.edit(model="dall-e-2", image=image(), prompt="add a hat", size="256x256", n=2)
    assert dict(telemetry.one_span().attributes or {})["gen_ai.usage.cost.amount"] == pytest.approx(0.032)
