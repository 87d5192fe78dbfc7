"""A small multi-team app using the real openai, anthropic, google-genai and boto3 SDKs. No
otel-ai-cost import except `tags`, `workflow` and `budget`: the pricing comes from
`opentelemetry-instrument` (see examples/demo.sh).

Base URLs point at the local stand-in server (OPENAI_BASE_URL, ANTHROPIC_BASE_URL,
GEMINI_BASE_URL, BEDROCK_ENDPOINT_URL).
"""

from __future__ import annotations

import asyncio
import os

import anthropic
import boto3
import openai
from google import genai
from google.genai import types

from otel_ai_cost import BudgetExceeded, budget, tags, workflow

oai = openai.OpenAI(api_key="sk-demo-not-a-real-key")
claude = anthropic.Anthropic(api_key="sk-ant-demo-not-a-real-key")
gemini = genai.Client(
    api_key="demo-not-a-real-key", http_options=types.HttpOptions(base_url=os.environ["GEMINI_BASE_URL"])
)
bedrock = boto3.client(
    "bedrock-runtime",
    endpoint_url=os.environ["BEDROCK_ENDPOINT_URL"],
    region_name="us-east-1",
    aws_access_key_id="demo",
    aws_secret_access_key="demo-not-a-real-key",
)


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


def research_agent() -> str:
    with tags(team="research", feature="literature-review"):
        reply = gemini.models.generate_content(model="gemini-2.5-flash", contents="Summarise recent work on RAG.")
        return reply.text or ""


def ticket_triage(ticket: str) -> str:
    """One agent run: a cheap Bedrock model routes the ticket, gpt-4o-mini drafts the answer."""
    with tags(team="support", feature="triage"), workflow("ticket-triage") as run:
        routed = bedrock.converse(
            modelId="amazon.nova-lite-v1:0",
            messages=[{"role": "user", "content": [{"text": f"Route this ticket: {ticket}"}]}],
        )
        queue = routed["output"]["message"]["content"][0]["text"]
        oai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"Draft a reply for {queue}"}]
        )
        run.outcome = "success"
        return queue


def lab_experiment() -> int:
    """An experiment loop held to one cent: the budget stops it before the request that would overspend."""
    sent = 0
    try:
        with tags(team="lab", feature="prompt-experiments"), budget(usd=0.01, name="lab-experiments"):
            for attempt in range(20):
                oai.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": f"Variant {attempt}"}]
                )
                sent += 1
    except BudgetExceeded as exc:
        print(f"demo app: budget {exc.budget_name!r} stopped the experiment after {sent} requests ({exc})")
    return sent


def forgotten_tags() -> None:
    oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Who pays for me?"}])


def main() -> None:
    for question in ("Where is my order?", "How do I reset my password?", "Can I get a refund?"):
        support_chatbot(question)
    streamed_assistant()
    contract_review()
    marketing_images()
    asyncio.run(search_embeddings())
    research_agent()
    for ticket in ("Invoice charged twice", "Cannot log in"):
        ticket_triage(ticket)
    experiments = lab_experiment()
    forgotten_tags()
    print(
        f"demo app: {19 + 4 + experiments} AI requests sent "
        "(OpenAI chat, streaming, images, embeddings; Anthropic; Gemini; Bedrock)"
    )


if __name__ == "__main__":
    main()
