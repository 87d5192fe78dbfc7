"""A small multi-team app using the real openai and anthropic SDKs. No otel-ai-cost import
except `tags`: the pricing comes from `opentelemetry-instrument` (see examples/demo.sh).

Base URLs point at the local stand-in server (OPENAI_BASE_URL, ANTHROPIC_BASE_URL).
"""

from __future__ import annotations

import asyncio

import anthropic
import openai

from otel_ai_cost import tags

oai = openai.OpenAI(api_key="sk-demo-not-a-real-key")
claude = anthropic.Anthropic(api_key="sk-ant-demo-not-a-real-key")


@tags(team="support", feature="chatbot")
def support_chatbot(question: str) -> str:
    reply = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "You help customers."}, {"role": "user", "content": question}],
    )
    return reply.choices[0].message.content or ""


def streamed_assistant() -> str:
    with tags(team="product", feature="writing-assistant"):
        stream = oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Draft a release note."}],
            stream=True,
            stream_options={"include_usage": True},
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def contract_review() -> str:
    with tags(team="legal", feature="contract-review"):
        message = claude.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=1024,
            messages=[{"role": "user", "content": "Review clause 7 of the attached contract."}],
        )
        with claude.messages.stream(
            model="claude-sonnet-4-6", max_tokens=512, messages=[{"role": "user", "content": "Summarise it."}]
        ) as stream:
            summary = "".join(stream.text_stream)
        return message.content[0].text + summary  # type: ignore[union-attr]


def marketing_images() -> int:
    with tags(team="marketing", feature="campaign-images"):
        images = oai.images.generate(model="dall-e-3", prompt="a lighthouse", n=1, size="1792x1024", quality="hd")
        return len(images.data or [])


async def search_embeddings() -> int:
    client = openai.AsyncOpenAI(api_key="sk-demo-not-a-real-key")

    async def embed(text: str) -> int:
        with tags(team="search", feature="semantic-index"):
            result = await client.embeddings.create(model="text-embedding-3-small", input=text)
            return len(result.data)

    return sum(await asyncio.gather(*(embed(f"document {i}") for i in range(10))))


def forgotten_tags() -> None:
    oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Who pays for me?"}])


def main() -> None:
    for question in ("Where is my order?", "How do I reset my password?", "Can I get a refund?"):
        support_chatbot(question)
    streamed_assistant()
    contract_review()
    marketing_images()
    asyncio.run(search_embeddings())
    forgotten_tags()
    print("demo app: 18 AI requests sent (chat, streaming, Anthropic, images, embeddings)")


if __name__ == "__main__":
    main()
