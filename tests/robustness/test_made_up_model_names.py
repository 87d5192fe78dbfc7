"""Model names come from response bodies: a server that makes one up per request must not grow the
price engine's memory without bound, nor flood the log with a line per name."""

from __future__ import annotations

import logging

import pytest

from otel_ai_cost import PriceEngine, Usage
from otel_ai_cost.pricing import engine as engine_module


def test_made_up_model_names_keep_memory_and_the_log_bounded(caplog: pytest.LogCaptureFixture) -> None:
    engine = PriceEngine()
    names = engine_module.RESOLVED_KEPT + 900
    with caplog.at_level(logging.WARNING, logger="otel_ai_cost"):
        for i in range(names):
            cost = engine.price(Usage(provider="openai", request_model=f"made-up-{i}", input_tokens=10))
            assert not cost.priced and cost.unpriced_reason == "unknown_model"
    assert len(engine._cache) <= engine_module.RESOLVED_KEPT
    misses = [record for record in caplog.records if "no price for" in record.getMessage()]
    assert len(misses) == engine_module.MISSES_LOGGED
    assert "the next are not" in caplog.records[-1].getMessage()
    # a model with a price is still priced after the resolutions started over:
    # gpt-4o-mini input 0.15 per 1M: 1000 x 0.15 = 150 per 1M
    known = engine.price(Usage(provider="openai", request_model="gpt-4o-mini", input_tokens=1000))
    assert known.priced and known.total_usd == pytest.approx(0.00015)


def test_a_model_name_is_logged_cut_short() -> None:
    engine = PriceEngine()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("otel_ai_cost")
    logger.addHandler(handler)
    try:
        engine.price(Usage(provider="openai", request_model="x" * 100_000, input_tokens=10))
    finally:
        logger.removeHandler(handler)
    assert records and len(records[0].getMessage()) < 400
