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
COMMITMENT = "ai.cost.commitment"
"""How the request was bought: on_demand, provisioned, batch, flex, priority (`pricing.Commitment`)."""
COST_TOKEN_TYPE = "ai.cost.token.type"
IMAGE_COUNT = "ai.image.count"
IMAGE_SIZE = "ai.image.size"
IMAGE_QUALITY = "ai.image.quality"
WEB_SEARCH_COUNT = "ai.web_search.count"
"""Web searches the provider ran for the request, billed per search."""
FILE_SEARCH_COUNT = "ai.file_search.count"
"""File searches the provider ran for the request, billed per call."""
TAG_PREFIX = "ai.cost."
UNTAGGED = "ai.cost.untagged"
WORKFLOW_NAME = "ai.cost.workflow.name"
WORKFLOW_OUTCOME = "ai.cost.workflow.outcome"
WORKFLOW_COST = "ai.cost.workflow.cost"
"""USD of the priced requests finished inside the workflow (see WORKFLOW_UNPRICED_REQUESTS)."""
WORKFLOW_REQUESTS = "ai.cost.workflow.requests"
WORKFLOW_UNPRICED_REQUESTS = "ai.cost.workflow.unpriced_requests"
WORKFLOW_INPUT_TOKENS = "ai.cost.workflow.input_tokens"
WORKFLOW_OUTPUT_TOKENS = "ai.cost.workflow.output_tokens"
BUDGET_NAME = "ai.cost.budget.name"
BUDGET_ACTION = "ai.cost.budget.action"
"""What a spent budget did to the request: `raise` (not sent) or `warn` (sent)."""

# Instruments: (name, unit).
COST = ("gen_ai.client.cost", "USD")
TOKEN_USAGE = ("gen_ai.client.token.usage", "{token}")
OPERATION_DURATION = ("gen_ai.client.operation.duration", "s")
TOKENS = ("ai.cost.tokens", "{token}")
SAVINGS_COUNTER = ("ai.cost.savings", "USD")
LIST_COST_COUNTER = ("ai.cost.list_cost", "USD")
UNPRICED = ("ai.cost.unpriced", "{request}")
IMAGES = ("ai.cost.images", "{image}")
REQUESTS = ("ai.cost.requests", "{request}")
INTERNAL_ERRORS = ("ai.cost.internal_errors", "{error}")
BUDGET_EXCEEDED = ("ai.cost.budget.exceeded", "{request}")
WORKFLOW_COST_HISTOGRAM = ("ai.cost.workflow.cost", "USD")
WORKFLOW_RUNS = ("ai.cost.workflow.runs", "{run}")

# Bucket advice of the GenAI semantic conventions.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
# USD per workflow run: from a single small call to a long agent run.
WORKFLOW_COST_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50, 100)

# Prometheus names, as the OTLP -> Prometheus translation writes them (dots to underscores, unit
# suffix except {annotations}, `_total` on counters); dashboards and alert rules use these.
PROMETHEUS_COST = "gen_ai_client_cost_USD_total"
PROMETHEUS_LIST_COST = "ai_cost_list_cost_USD_total"


def prometheus_label(attribute: str) -> str:
    """`ai.cost.team` -> `ai_cost_team`."""
    return attribute.replace(".", "_")
