"""`AICostInstrumentor`: what `opentelemetry-instrument` loads through our entry point.

It wraps `Client.send` and `AsyncClient.send` of httpx2 and httpx, `requests.Session.send`,
botocore's `BaseClient._make_api_call` and aiohttp's `ClientSession._request`. A
library not imported yet is wrapped when it is imported, so instrumenting costs no import of any.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import wrapt
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.dependencies import DependencyConflict, get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

if TYPE_CHECKING:
    from otel_ai_cost.config import Settings
    from otel_ai_cost.tags import TagPolicy

logger = logging.getLogger(__name__)

_TRANSPORTS = (
    ("httpx2", "httpx_send"),
    ("httpx", "httpx_send"),
    ("requests", "requests_send"),
    ("botocore.client", "botocore_send"),
    ("aiohttp", "aiohttp_send"),
)
"""(library, our transport module in `otel_ai_cost.transports`): each module's `install` and
`uninstall` put its hooks on the library and take them off."""
_INSTRUMENTS_ANY = ("httpx2 >= 2.0", "httpx >= 0.23", "botocore >= 1.34", "requests >= 2.28", "aiohttp >= 3.9")
_VERSION = "0.1.0"


class AICostInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Prices every GenAI API request sent through httpx2, httpx, requests, aiohttp or botocore.

    `instrument()` accepts `tracer_provider`, `meter_provider` and `price_engine` (a
    `PriceEngine`); everything else comes from `OTEL_AI_COST_*` settings. Instrumenting twice is
    harmless, `uninstrument()` restores the original methods, and `_instrument` never raises.
    """

    _active: dict[str, Any] = {}

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _check_dependency_conflicts(self) -> DependencyConflict | None:
        # Either library will do: openai 3.x and anthropic 2.x use httpx2, many others httpx.
        return get_dependency_conflicts((), _INSTRUMENTS_ANY)

    def _instrument(self, **kwargs: Any) -> None:
        try:
            self._instrument_or_raise(**kwargs)
        except Exception:
            logger.exception("otel-ai-cost: could not instrument; AI requests will not be priced")

    def _instrument_or_raise(self, **kwargs: Any) -> None:
        from otel_ai_cost import _report_setting, _settings_from_env, default_engine
        from otel_ai_cost.providers.routing import parse_endpoint_map
        from otel_ai_cost.telemetry.recorder import Recorder

        settings = _settings_from_env()
        try:
            endpoints = parse_endpoint_map(settings.endpoints) if settings.endpoints else None
        except ValueError as exc:
            _report_setting(f"{exc}; ignoring it")  # exc names the variable
            endpoints = None

        tracer_provider = kwargs.get("tracer_provider") or trace.get_tracer_provider()
        tracer = trace.get_tracer(__name__, _VERSION, tracer_provider=tracer_provider)
        meter = metrics.get_meter(__name__, _VERSION, meter_provider=kwargs.get("meter_provider"))
        resource = getattr(tracer_provider, "resource", None)
        policy = _tag_policy(settings, getattr(resource, "attributes", None))
        recorder = Recorder(
            tracer,
            meter,
            kwargs.get("price_engine") or default_engine(),
            policy,
            semconv_histograms=settings.semconv_metrics,
            estimate_stream_usage=settings.estimate_stream_usage,
        )
        state: dict[str, Any] = {"recorder": recorder, "endpoints": endpoints, "hooks": []}
        AICostInstrumentor._active = state
        for library, transport in _TRANSPORTS:
            wrap = functools.partial(_wrap, state=state, transport=transport)
            if library in sys.modules:
                wrap(sys.modules[library])
            else:
                wrapt.register_post_import_hook(wrap, library)

    def _uninstrument(self, **kwargs: Any) -> None:
        installed = AICostInstrumentor._active.get("hooks", ())
        AICostInstrumentor._active = {}
        for library, transport in _TRANSPORTS:
            module = sys.modules.get(library)
            hooks_module = sys.modules.get(f"otel_ai_cost.transports.{transport}")  # not imported: nothing installed
            if module is not None and hooks_module is not None:
                hooks_module.uninstall(module)
        for hooks in installed:  # also those another instrumentation's plain function hides from `take_out`
            hooks.enabled = False


def _wrap(module: Any, state: dict[str, Any], transport: str) -> None:
    """Install a transport's hooks on its library, unless this instrumentation was switched off meanwhile."""
    if AICostInstrumentor._active is not state:
        return
    try:
        hooks_module = importlib.import_module(f"otel_ai_cost.transports.{transport}")
        state["hooks"].append(hooks_module.install(module, state["recorder"], state["endpoints"]))
    except Exception:
        logger.exception("otel-ai-cost: could not instrument %s", getattr(module, "__name__", module))


def _tag_policy(settings: Settings, resource_attributes: Any) -> TagPolicy:
    """The tag policy the settings say; one whose tag settings cannot be used (a reserved name) is
    logged and that setting's default used, the others kept: the application is never left
    unpriced by it."""
    from otel_ai_cost import _report_setting
    from otel_ai_cost.config import Settings
    from otel_ai_cost.tags import TagPolicy

    try:
        return TagPolicy.from_settings(settings, resource_attributes=resource_attributes)
    except ValueError as exc:
        problem = exc
    defaults = Settings()
    fallbacks = (
        ("OTEL_AI_COST_DEFAULT_TAGS", replace(settings, default_tags=defaults.default_tags)),
        ("OTEL_AI_COST_REQUIRED_TAGS", replace(settings, required_tags=defaults.required_tags)),
        (
            "OTEL_AI_COST_DEFAULT_TAGS and OTEL_AI_COST_REQUIRED_TAGS",
            replace(settings, default_tags=defaults.default_tags, required_tags=defaults.required_tags),
        ),
    )
    for ignored, fallback in fallbacks:
        try:
            policy = TagPolicy.from_settings(fallback, resource_attributes=resource_attributes)
        except ValueError:
            continue
        _report_setting(f"{problem}; ignoring {ignored}")
        return policy
    _report_setting(f"{problem}; using the default tag settings")
    return TagPolicy.from_settings(defaults, resource_attributes=resource_attributes)
