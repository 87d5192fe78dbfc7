#!/usr/bin/env bash
# The demo (`make demo`): a multi-team app using the real openai, anthropic, google-genai and boto3
# SDKs, run under `opentelemetry-instrument` against local stand-ins of the four APIs (no API key,
# no network), writing FinOps FOCUS rows; then the same package's CLI for what-if pricing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'kill "${server_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

python "$here/standin_server.py" "$work/port" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port="$(cat "$work/port")"
base="http://127.0.0.1:$port"

printf '\n\033[1m== A multi-team app, zero code change: opentelemetry-instrument python examples/demo_app.py\033[0m\n'
OPENAI_BASE_URL="$base/v1" \
ANTHROPIC_BASE_URL="$base/anthropic" \
GEMINI_BASE_URL="$base/gemini" \
BEDROCK_ENDPOINT_URL="$base" \
OTEL_AI_COST_ENDPOINTS="$base/v1=openai,$base/anthropic=anthropic,$base/gemini=gemini" \
OTEL_AI_COST_PRICES_FILE="$here/demo-prices.yaml" \
OTEL_SERVICE_NAME=demo-app \
OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=demo \
OTEL_TRACES_EXPORTER=ai_cost_focus OTEL_AI_COST_FOCUS_PATH="$work/focus.csv" OTEL_LOGS_EXPORTER=none \
OTEL_METRICS_EXPORTER=ai_cost_summary \
  opentelemetry-instrument python "$here/demo_app.py"

printf '\n\033[1m== The same spend as FinOps FOCUS 1.2 rows (OTEL_TRACES_EXPORTER=ai_cost_focus), a few columns\033[0m\n'
python - "$work/focus.csv" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print(f"{len(rows)} rows in {sys.argv[1].rsplit('/', 1)[-1]}")
print(f"  {'ProviderName':<21}{'ResourceName':<25}{'team':<11}{'ConsumedQuantity':>17} {'ConsumedUnit':<8}{'EffectiveCost':>14}")
for row in sorted(rows, key=lambda r: -float(r["EffectiveCost"] or 0))[:8]:
    team = json.loads(row["Tags"] or "{}").get("team", "")
    cost = f"{float(row['EffectiveCost']):.6f}" if row["EffectiveCost"] else "unpriced"
    quantity = f"{float(row['ConsumedQuantity']):,.0f}"
    print(f"  {row['ProviderName'][:20]:<21}{row['ResourceName'][:24]:<25}{team:<11}{quantity:>17} {row['ConsumedUnit']:<8}{cost:>14}")
PY

export OTEL_AI_COST_PRICES_FILE="$here/demo-prices.yaml"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "What-if: the support chatbot's month at 20,000 requests a day, and cheaper models" \
  otel-ai-cost estimate --model gpt-4o --input-tokens 3200 --cached-tokens 2048 --output-tokens 350 \
    --requests-per-day 20000 --compare gpt-4o-mini,claude-haiku-4-5,gemini-2.5-flash

step "Research agent: Gemini 2.5 Pro over 200k tokens (long-context tier), with thinking" \
  otel-ai-cost price gemini-2.5-pro --provider gcp.gemini --input-tokens 230000 --output-tokens 1200 --reasoning-tokens 4000

step "Copilot on the Azure provisioned deployment (PTU: paid up front, list price shown)" \
  otel-ai-cost price ptu-eastus --provider azure.ai.openai --input-tokens 2500 --output-tokens 600

step "Your own prices file, checked before shipping it" \
  otel-ai-cost prices check "$OTEL_AI_COST_PRICES_FILE"

step "Per-team daily budgets as Prometheus alert rules (Grafana: add --format grafana)" \
  otel-ai-cost alerts budgets "$here/../dashboards/alerts/budgets.example.yaml" -o "$work/budgets.rules.yaml"
grep -E '^  - alert|^    expr' "$work/budgets.rules.yaml"
printf '\nDashboards, alert rules and the collector config: dashboards/README.md and collector/README.md\n'
