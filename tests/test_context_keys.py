"""The context keys learnt from the OpenTelemetry API, and the suppression check built on them."""

from __future__ import annotations

from opentelemetry import baggage, context, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, suppress_instrumentation

from otel_ai_cost.telemetry.context_keys import BAGGAGE_KEY, SPAN_KEY, SUPPRESSION_KEYS, instrumentation_enabled


def test_the_keys_are_where_the_api_reads_the_span_and_the_baggage() -> None:
    span = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
    ctx = Context({SPAN_KEY: span, BAGGAGE_KEY: {"team": "search"}})
    assert trace.get_current_span(ctx) is span
    assert dict(baggage.get_all(ctx)) == {"team": "search"}


def test_instrumentation_enabled_agrees_with_the_api() -> None:
    assert len(SUPPRESSION_KEYS) == 2  # the API's key and the plain "suppress_instrumentation" of older code
    assert instrumentation_enabled(context.get_current()) and is_instrumentation_enabled()
    with suppress_instrumentation():
        assert not instrumentation_enabled(context.get_current())
        assert not is_instrumentation_enabled()
    for key in SUPPRESSION_KEYS:  # either key alone suppresses, as for the API
        token = context.attach(context.set_value(key, True))
        try:
            assert not instrumentation_enabled(context.get_current())
            assert not is_instrumentation_enabled()
        finally:
            context.detach(token)
