"""`AICostInstrumentor`: what `opentelemetry-instrument` loads through our entry point.

It wraps `Client.send` and `AsyncClient.send` of httpx2 and httpx, `requests.Session.send`,
botocore's `BaseClient._make_api_call` and aiohttp's `ClientSession._request`. A
library not imported yet is wrapped when it is imported, so instrumenting costs no import of any.
"""

from __future__ import annotations

import functools
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

HTTP_LIBRARIES = ("httpx2", "httpx")
_INSTRUMENTS_ANY = ("httpx2 >= 2.0", "httpx >= 0.23", "botocore >= 1.34", "requests >= 2.28", "aiohttp >= 3.9")
_VERSION = "0.1.0"


class AICostInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Prices every GenAI API request sent through httpx2 or httpx.

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
        for name in HTTP_LIBRARIES:
            if name in sys.modules:
                _wrap(sys.modules[name], state)
            else:
                wrapt.register_post_import_hook(functools.partial(_wrap, state=state), name)
        if "requests" in sys.modules:
            _wrap_requests(sys.modules["requests"], state)
        else:
            wrapt.register_post_import_hook(functools.partial(_wrap_requests, state=state), "requests")
        if "botocore.client" in sys.modules:
            _wrap_botocore(sys.modules["botocore.client"], state)
        else:
            wrapt.register_post_import_hook(functools.partial(_wrap_botocore, state=state), "botocore.client")
        if "aiohttp" in sys.modules:
            _wrap_aiohttp(sys.modules["aiohttp"], state)
        else:
            wrapt.register_post_import_hook(functools.partial(_wrap_aiohttp, state=state), "aiohttp")

    def _uninstrument(self, **kwargs: Any) -> None:
        installed = AICostInstrumentor._active.get("hooks", ())
        AICostInstrumentor._active = {}
        from otel_ai_cost.transports.common import live_hooks, take_out

        for name in HTTP_LIBRARIES:
            module = sys.modules.get(name)
            if module is not None and "otel_ai_cost.transports.httpx_send" in sys.modules:
                from otel_ai_cost.transports.httpx_send import SendHooks

                hooks = live_hooks(module.Client.__dict__.get("send"), SendHooks) or live_hooks(
                    module.AsyncClient.__dict__.get("send"), SendHooks
                )
                if hooks is not None:
                    take_out(hooks, module.Client, "send")
                    take_out(hooks, module.AsyncClient, "send")
        requests_module = sys.modules.get("requests")
        if requests_module is not None and "otel_ai_cost.transports.requests_send" in sys.modules:
            from otel_ai_cost.transports.requests_send import RequestsHooks

            requests_hooks = live_hooks(requests_module.Session.__dict__.get("send"), RequestsHooks)
            if requests_hooks is not None:
                take_out(requests_hooks, requests_module.Session, "send")
        botocore_client = sys.modules.get("botocore.client")
        if botocore_client is not None:
            from otel_ai_cost.transports import botocore_send

            botocore_send.uninstall(botocore_client)
        aiohttp_module = sys.modules.get("aiohttp")
        if aiohttp_module is not None and "otel_ai_cost.transports.aiohttp_send" in sys.modules:
            from otel_ai_cost.transports import aiohttp_send

            aiohttp_send.uninstall(aiohttp_module)
        for hooks in installed:  # also those another instrumentation's plain function hides from `take_out`
            hooks.enabled = False


def _wrap(module: Any, state: dict[str, Any]) -> None:
    """Wrap one library's send methods, unless this instrumentation was switched off meanwhile."""
    if AICostInstrumentor._active is not state:
        return
    try:
        from otel_ai_cost.transports.common import live_hooks
        from otel_ai_cost.transports.httpx_send import SendHooks

        if live_hooks(module.Client.__dict__.get("send"), SendHooks) is not None:
            return
        hooks = SendHooks(module, state["recorder"], state["endpoints"])
        wrapt.wrap_function_wrapper(module, "Client.send", hooks.send)
        wrapt.wrap_function_wrapper(module, "AsyncClient.send", hooks.send_async)
        state["hooks"].append(hooks)
    except Exception:
        logger.exception("otel-ai-cost: could not instrument %s", getattr(module, "__name__", module))


def _wrap_requests(module: Any, state: dict[str, Any]) -> None:
    """Wrap `requests.Session.send`, unless this instrumentation was switched off meanwhile."""
    if AICostInstrumentor._active is not state:
        return
    try:
        from otel_ai_cost.transports.common import live_hooks
        from otel_ai_cost.transports.requests_send import RequestsHooks

        if live_hooks(module.Session.__dict__.get("send"), RequestsHooks) is not None:
            return
        hooks = RequestsHooks(state["recorder"], state["endpoints"])
        wrapt.wrap_function_wrapper(module, "Session.send", hooks.send)
        state["hooks"].append(hooks)
    except Exception:
        logger.exception("otel-ai-cost: could not instrument requests")


def _wrap_botocore(module: Any, state: dict[str, Any]) -> None:
    """Wrap botocore's `BaseClient._make_api_call` (Bedrock Runtime), unless switched off meanwhile."""
    if AICostInstrumentor._active is not state:
        return
    try:
        from otel_ai_cost.transports import botocore_send

        state["hooks"].append(botocore_send.install(module, state["recorder"]))
    except Exception:
        logger.exception("otel-ai-cost: could not instrument botocore")


def _wrap_aiohttp(module: Any, state: dict[str, Any]) -> None:
    """Wrap aiohttp's `ClientSession._request` and its response bodies, unless switched off meanwhile."""
    if AICostInstrumentor._active is not state:
        return
    try:
        from otel_ai_cost.transports import aiohttp_send

        state["hooks"].append(aiohttp_send.install(module, state["recorder"], state["endpoints"]))
    except Exception:
        logger.exception("otel-ai-cost: could not instrument aiohttp")


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
