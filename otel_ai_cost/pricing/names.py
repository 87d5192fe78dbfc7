"""Model and provider names as APIs send them, turned into names the catalogs know."""

from __future__ import annotations

import re

# gen_ai.provider.name -> genai-prices provider id.
GENAI_PRICES_PROVIDER = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "aws.bedrock": "aws",
    "groq": "groq",
    "mistral_ai": "mistral",
    "deepseek": "deepseek",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "perplexity": "perplexity",
    "together": "together",
    "together_ai": "together",
    "fireworks": "fireworks",
    "openrouter": "openrouter",
    "cohere": "cohere",
    "cerebras": "cerebras",
}

# Prefixes that name a provider or a resource path, not the model: "models/gemini-2.5-pro",
# "openai/gpt-4o" (LiteLLM, OpenRouter), "publishers/google/models/gemini-2.0-flash" (Vertex AI).
_PATH_PREFIX = re.compile(r"^(?:.*/)?(?:publishers/[^/]+/)?models/")
_VENDOR_PREFIX = re.compile(
    r"^(?:openai|azure|anthropic|google|gemini|vertex_ai|bedrock|aws|mistral|mistralai|groq|deepseek|"
    r"x-ai|xai|meta-llama|cohere|together_ai|fireworks_ai|openrouter)/"
)
# Bedrock cross-region inference profiles: "us.anthropic.claude-...", "global.anthropic...".
_BEDROCK_REGION = re.compile(r"^(?:us|eu|apac|ap|jp|au|ca|us-gov|global)\.(?=[a-z0-9-]+\.)")
# Version dates: "-2024-07-18", "-20241022", "@20241022" (Vertex AI), "-latest".
_DATE_SUFFIX = re.compile(r"(?:[-@](?:20\d\d-?[01]\d-?[0-3]\d|latest))+$")


def normalize(model: str) -> str:
    """Lower-case, without provider, path, ARN or Bedrock region prefixes; dates are kept."""
    name = model.strip().lower()
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    name = _PATH_PREFIX.sub("", name)
    name = _VENDOR_PREFIX.sub("", name)
    return _BEDROCK_REGION.sub("", name)


def candidates(model: str) -> list[str]:
    """Names to try in a catalog, most specific first, without repeats."""
    names = [model.strip().lower()]
    normalized = normalize(model)
    undated = _DATE_SUFFIX.sub("", normalized)
    for name in (normalized, undated):
        if name and name not in names:
            names.append(name)
    return names
