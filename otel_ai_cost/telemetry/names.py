"""Every attribute and instrument name of the contract (../shared/design.md). Nowhere else names them."""

from __future__ import annotations

# Span attributes: GenAI semantic conventions.
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
COST_AMOUNT = "gen_ai.usage.cost.amount"
COST_CURRENCY = "gen_ai.usage.cost.currency"
TOKEN_TYPE = "gen_ai.token.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# Span attributes: this package.
PRICED = "ai.cost.priced"
UNPRICED_REASON = "ai.cost.unpriced_reason"
ESTIMATED = "ai.cost.estimated"
PRICE_SOURCE = "ai.cost.price_source"
LIST_COST = "ai.cost.list_amount"
SAVINGS = "ai.cost.savings_amount"
COST_TOKEN_TYPE = "ai.cost.token.type"
IMAGE_COUNT = "ai.image.count"
IMAGE_SIZE = "ai.image.size"
IMAGE_QUALITY = "ai.image.quality"
TAG_PREFIX = "ai.cost."
UNTAGGED = "ai.cost.untagged"

# Instruments: (name, unit).
COST = ("gen_ai.client.cost", "USD")
TOKEN_USAGE = ("gen_ai.client.token.usage", "{token}")
OPERATION_DURATION = ("gen_ai.client.operation.duration", "s")
TOKENS = ("ai.cost.tokens", "{token}")
SAVINGS_COUNTER = ("ai.cost.savings", "USD")
UNPRICED = ("ai.cost.unpriced", "{request}")
IMAGES = ("ai.cost.images", "{image}")
REQUESTS = ("ai.cost.requests", "{request}")
INTERNAL_ERRORS = ("ai.cost.internal_errors", "{error}")

# Bucket advice of the GenAI semantic conventions.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

# Prometheus names, as the OTLP -> Prometheus translation writes them (dots to underscores, unit
# suffix except {annotations}, `_total` on counters); dashboards and alert rules use these.
PROMETHEUS_COST = "gen_ai_client_cost_USD_total"


def prometheus_label(attribute: str) -> str:
    """`ai.cost.team` -> `ai_cost_team`."""
    return attribute.replace(".", "_")
