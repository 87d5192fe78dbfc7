#!/usr/bin/env bash
# The demo: what a month of a small company's AI traffic costs, request kind by request kind,
# priced with the otel-ai-cost command (no API key, no network). `make demo` runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export OTEL_AI_COST_PRICES_FILE="$here/demo-prices.yaml"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "Checking the company's own prices file (discount, internal model, Azure PTU)" \
  otel-ai-cost prices check "$OTEL_AI_COST_PRICES_FILE"

step "Support chatbot: gpt-4o-mini, a long cached system prompt" \
  otel-ai-cost price gpt-4o-mini --input-tokens 3200 --cached-tokens 2048 --output-tokens 350

step "Contract review: Claude Sonnet 4.5, a 1 h cache write of the contract" \
  otel-ai-cost price claude-sonnet-4-5 --input-tokens 42000 --cache-write-1h-tokens 40000 --output-tokens 1800

step "Research agent: Gemini 2.5 Pro over 200k tokens (long-context tier), with thinking" \
  otel-ai-cost price gemini-2.5-pro --provider gcp.gemini --input-tokens 230000 --output-tokens 1200 --reasoning-tokens 4000

step "Nightly summaries: o3-mini through the Batch API" \
  otel-ai-cost price o3-mini --input-tokens 6000 --output-tokens 600 --reasoning-tokens 2400 --batch

step "Marketing images: DALL-E 3, two HD landscape images" \
  otel-ai-cost price dall-e-3 --images 2 --size 1792x1024 --quality hd

step "Product photos: Amazon Nova Canvas on Bedrock, premium 1024x1024" \
  otel-ai-cost price amazon.nova-canvas-v1:0 --provider aws.bedrock --images 4 --size 1024x1024 --quality premium

step "Search ranking on the internal Llama (priced from the prices file)" \
  otel-ai-cost price llama-3.1-70b-internal --input-tokens 1500 --output-tokens 40

step "Copilot on the Azure provisioned deployment (PTU: paid up front, list price shown)" \
  otel-ai-cost price ptu-eastus --provider azure.ai.openai --input-tokens 2500 --output-tokens 600

step "FinOps: the support chatbot's month at 20,000 requests a day, and cheaper models" \
  otel-ai-cost estimate --model gpt-4o --input-tokens 3200 --cached-tokens 2048 --output-tokens 350 \
    --requests-per-day 20000 --compare gpt-4o-mini,claude-haiku-4-5,gemini-2.5-flash

step "Which Claude models are priced, and at what" \
  otel-ai-cost prices list --provider anthropic --search sonnet-4
