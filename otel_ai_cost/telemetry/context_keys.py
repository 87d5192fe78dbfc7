"""The OpenTelemetry API's context keys, learnt at import from what its public functions write.

The API keeps the current span, the baggage and the suppression flags under private key names.
The hot path reads and builds contexts with these keys directly (one dict, not a chain of
`set_value` copies); learning them from the public setters keeps that correct if the names change.
"""

from __future__ import annotations

from typing import Final

from opentelemetry import baggage, context, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation


def _suppression_keys() -> tuple[str, ...]:
    token = context.attach(Context())
    try:
        with suppress_instrumentation():
            return tuple(context.get_current())
    finally:
        context.detach(token)


SPAN_KEY: Final = next(iter(trace.set_span_in_context(trace.INVALID_SPAN, Context())))
BAGGAGE_KEY: Final = next(iter(baggage.set_baggage("probe", "", Context())))
SUPPRESSION_KEYS: Final = _suppression_keys()
"""What `suppress_instrumentation()` sets (the current key and the plain one older code sets)."""


def instrumentation_enabled(ctx: Context) -> bool:
    """`opentelemetry.instrumentation.utils.is_instrumentation_enabled()` for a context already read."""
    for key in SUPPRESSION_KEYS:
        if ctx.get(key):
            return False
    return True
