"""Offline validator for OpenTelemetry Collector (otelcol-contrib v0.159.0) YAML configs.

It reads the reference data described in ``<reference>/README.md`` (components.yaml and the
schemagen ``config.schema.yaml`` copies under ``schemas/``) and reports, without running a
collector binary: unknown or deprecated component types, config keys and value types that do not
match the component schemas, broken ``service`` wiring and malformed ``${...}`` substitutions.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

ENV_VAR = "OTELCOL_CONTRIB_REFERENCE"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LOCATIONS: tuple[Path, ...] = (
    REPO_ROOT.parent / "shared" / "otelcol-contrib",
    Path("/work/shared/otelcol-contrib"),
)

CLASSES = ("receivers", "processors", "exporters", "connectors", "extensions")
SIGNALS = ("traces", "metrics", "logs", "profiles")
CORE_MODULE = "go.opentelemetry.io/collector"
CONTRIB_MODULE = "github.com/open-telemetry/opentelemetry-collector-contrib"

# README caveat 1: $refs whose target is not part of the reference data. They are treated as "any".
UNRESOLVABLE_REFS = frozenset(
    {
        f"{CONTRIB_MODULE}/processor/filterprocessor/internal/condition.context_conditions",
        f"{CONTRIB_MODULE}/internal/healthcheck.config",
        f"{CORE_MODULE}/pipeline.id",
        "time.duration",
        f"{CORE_MODULE}/exporter/exporterhelper/internal/request.sizer_type",
    }
)

# schemagen writes every embedded Go struct as a squashed `allOf` entry, even when its mapstructure
# tag names a key: prometheus_remote_write and load_balancing embed configretry.BackOffConfig as
# `mapstructure:"retry_on_failure"`. Such entries become a property under that key instead.
EMBEDDED_UNDER_KEY = {f"{CORE_MODULE}/config/configretry.back_off_config": "retry_on_failure"}

# Named types that also decode from a YAML map: configopaque.MapList (`headers: {Name: value}`).
ALSO_A_STRING_MAP = frozenset({f"{CORE_MODULE}/config/configopaque.map_list"})

# README caveat 8: keys that exist in v0.159.0 but are missing from the older schema copies.
# {(class, type): {dotted key path of the object ("" = component root): extra keys, values unchecked}}
SCHEMA_SKEW_EXTRA_KEYS: dict[tuple[str, str], dict[str, frozenset[str]]] = {
    ("exporters", "prometheus_remote_write"): {
        "": frozenset({"convert_explicit_histograms_to_nhcb"}),
        "remote_write_queue": frozenset({"include_metadata_keys"}),
    },
    ("extensions", "basicauth"): {"client_auth": frozenset({"aws_secrets_manager"})},
}

# README caveat 6: where OTTL lives. `[]` = every list item, `*` = every map key. Only checked to be
# non-empty strings; a mapping at a location is the object form of a statement/condition group.
OTTL_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("processors", "transform"): tuple(
        f"{signal}_statements[]{suffix}"
        for signal in ("trace", "metric", "log", "profile")
        for suffix in ("", ".statements[]", ".conditions[]")
    ),
    ("processors", "filter"): (
        *(
            f"{signal}_conditions[]{suffix}"
            for signal in ("trace", "metric", "log", "profile")
            for suffix in ("", ".conditions[]")
        ),
        *"traces.span[] traces.spanevent[] traces.resource[] metrics.metric[] metrics.datapoint[]".split(),
        *"metrics.resource[] logs.log_record[] logs.resource[] profiles.profile[] profiles.resource[]".split(),
    ),
    ("connectors", "routing"): ("table[].condition", "table[].statement"),
    ("connectors", "count"): ("*.*.conditions[]",),
    ("connectors", "sum"): ("*.*.conditions[]",),
}
# Lists whose items are an OTTL string or an object; the schemas only describe the object form.
STRING_OR_OBJECT_ITEMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("processors", "transform"): ("trace_statements", "metric_statements", "log_statements", "profile_statements"),
    ("processors", "filter"): ("trace_conditions", "metric_conditions", "log_conditions", "profile_conditions"),
}

# Go kinds that decode only from the matching YAML scalar; other x-customType values (named types) may
# implement encoding.TextUnmarshaler, so their type is not checked (README caveat 4).
BASIC_GO_TYPES = frozenset(
    "bool string byte int int8 int16 int32 int64 uint uint8 uint16 uint32 uint64 float32 float64 time.Duration".split()
)
SCALAR_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}
GO_DURATION = re.compile(r"[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
COMPONENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
COMPONENT_NAME = re.compile(r"[^\s/]+")
PIPELINE_ID = re.compile(rf"({'|'.join(SIGNALS)})(/[^\s/]+)?")


@dataclass(frozen=True)
class Problem:
    """One finding: `path` is dotted (``processors.transform/x.trace_statements[0]``); warnings do not fail."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        return f"[{self.severity}] {self.path or '<root>'}: {self.message}"


class SchemaError(Exception):
    """The reference data (or this resolver) is broken: a $ref that should resolve does not."""


@dataclass(frozen=True)
class SchemaNode:
    """A schema fragment plus the Go package of the file it came from (needed to resolve its $refs)."""

    schema: Mapping[str, Any]
    package: str
    named: bool = False  # reached through a $ref, i.e. a named Go type
    def_name: str = ""  # "<package>.<def>" of that $ref


@dataclass(frozen=True)
class ComponentInfo:
    cls: str
    type: str
    deprecated_types: tuple[str, ...]
    module: str
    confidence: str


def find_reference() -> Path:
    """Return the reference directory: $OTELCOL_CONTRIB_REFERENCE, then DEFAULT_LOCATIONS; raise if none exists."""
    candidates = [Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else []
    candidates.extend(DEFAULT_LOCATIONS)
    for candidate in candidates:
        if (candidate / "components.yaml").is_file():
            return candidate
    looked = "\n".join(f"  {c}" for c in candidates)
    raise FileNotFoundError(
        f"otelcol-contrib reference data (components.yaml) not found; looked in:\n{looked}\n"
        f"(set {ENV_VAR} to its directory)"
    )


@functools.cache
def load_reference() -> Reference:
    """The Reference at find_reference(), loaded once per process."""
    return Reference(find_reference())


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _repo_module(package: str) -> str:
    for module in (CORE_MODULE, CONTRIB_MODULE):
        if package == module or package.startswith(module + "/"):
            return module
    raise SchemaError(f"module-root-relative $ref from {package}, which is in neither the core nor the contrib repo")


def split_ref(ref: str, package: str) -> tuple[str, str]:
    """Turn a schemagen $ref, written in `package`, into (target package, def name); the def is the last dot token."""
    if ref.startswith("./"):
        sub, _, def_name = ref[2:].rpartition(".")
        return f"{package}/{sub}", def_name
    if ref.startswith("/"):
        sub, _, def_name = ref[1:].rpartition(".")
        return f"{_repo_module(package)}/{sub}", def_name
    if "." not in ref and "/" not in ref:
        return package, ref  # bare name: #/$defs/<name> in the same file
    target, _, def_name = ref.rpartition(".")
    return target, def_name


def _child_schemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from schema.get("properties", {}).values()
    yield from schema.get("allOf", [])
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            yield schema[key]


class Reference:
    """components.yaml plus lazily loaded, $ref-resolving access to schemas/<class>/<type>.yaml and schemas/_refs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        data = _load_yaml(root / "components.yaml")
        self.version: str = str(data["version"])
        self.providers: frozenset[str] = frozenset(p["scheme"] for p in data["confmap_providers"])
        self.components: dict[str, dict[str, ComponentInfo]] = {cls: {} for cls in CLASSES}
        self._schema_files: dict[str, Path] = {}
        for cls in CLASSES:
            for entry in data[cls]:
                info = ComponentInfo(
                    cls, entry["type"], tuple(entry["deprecated_types"]), entry["module"], entry["confidence"]
                )
                for name in (info.type, *info.deprecated_types):
                    self.components[cls][name] = info
                schema_file = root / "schemas" / cls / f"{info.type}.yaml"
                if schema_file.is_file():
                    self._schema_files[info.module] = schema_file
        self._packages: dict[str, Mapping[str, Any] | None] = {}

    def component(self, cls: str, type_: str) -> ComponentInfo | None:
        """The components.yaml entry for a canonical type or a deprecated alias."""
        return self.components[cls].get(type_)

    def lookalike(self, cls: str, type_: str) -> ComponentInfo | None:
        """A medium/low-confidence entry equal to `type_` ignoring underscores: it may have been renamed since."""

        def squash(name: str) -> str:
            return name.replace("_", "").lower()

        for name, info in self.components[cls].items():
            if info.confidence in ("medium", "low") and squash(name) == squash(type_):
                return info
        return None

    def component_schema(self, cls: str, type_: str) -> SchemaNode | None:
        """Root schema of a component (type or alias), or None if the reference has no schema for it."""
        info = self.component(cls, type_)
        if info is None or info.module not in self._schema_files:
            return None
        return SchemaNode(self._package_schema(info.module) or {}, info.module)

    def _package_schema(self, package: str) -> Mapping[str, Any] | None:
        if package not in self._packages:
            path = self._schema_files.get(package, self.root / "schemas" / "_refs" / f"{package}.yaml")
            self._packages[package] = _load_yaml(path) if path.is_file() else None
        return self._packages[package]

    def resolve_ref(self, ref: str, package: str) -> SchemaNode | None:
        """Resolve one $ref written in `package`; None for the README's known-unresolvable refs."""
        target, def_name = split_ref(ref, package)
        qualified = f"{target}.{def_name}"
        data = self._package_schema(target)
        if data is not None:
            if def_name in data.get("$defs", {}):
                return SchemaNode(data["$defs"][def_name], target, named=True, def_name=qualified)
            if def_name == "config" and "type" in data:  # a component package's root schema is its Config
                return SchemaNode(data, target, named=True, def_name=qualified)
        if qualified in UNRESOLVABLE_REFS:
            return None
        raise SchemaError(f"cannot resolve $ref `{ref}` from {package}: no {qualified} under {self.root}/schemas")

    def resolve(self, node: SchemaNode) -> SchemaNode | None:
        """Follow `node`'s $ref chain; None means "any value"."""
        for _ in range(20):
            ref = node.schema.get("$ref")
            if ref is None:
                return node
            target = self.resolve_ref(ref, node.package)
            if target is None:
                return None
            node = target
        raise SchemaError(f"$ref chain too long at {node.def_name}")

    def properties(self, node: SchemaNode) -> tuple[dict[str, SchemaNode], bool]:
        """Allowed keys of an object schema: its properties plus those of every allOf entry (squashed structs).

        The flag is True when the key set is open: nothing is declared, or an allOf entry is unresolvable.
        """
        schema = node.schema
        props = {key: SchemaNode(sub, node.package) for key, sub in schema.get("properties", {}).items()}
        is_open = not any(k in schema for k in ("properties", "allOf", "additionalProperties"))
        for entry in schema.get("allOf", []):
            part = self.resolve(SchemaNode(entry, node.package))
            if part is None:
                is_open = True
            elif part.def_name in EMBEDDED_UNDER_KEY:
                props[EMBEDDED_UNDER_KEY[part.def_name]] = part
            else:
                part_props, part_open = self.properties(part)
                props.update(part_props)
                is_open = is_open or part_open
        return props, is_open

    def reachable_refs(self, node: SchemaNode) -> dict[str, bool]:
        """Every $ref reachable from `node` ("<package>.<def>" -> resolved?). Raises SchemaError on a broken one."""
        found: dict[str, bool] = {}
        stack = [node]
        while stack:
            current = stack.pop()
            ref = current.schema.get("$ref")
            if ref is None:
                stack.extend(SchemaNode(child, current.package) for child in _child_schemas(current.schema))
                continue
            target_package, def_name = split_ref(ref, current.package)
            qualified = f"{target_package}.{def_name}"
            if qualified not in found:
                target = self.resolve_ref(ref, current.package)
                found[qualified] = target is not None
                if target is not None:
                    stack.append(target)
        return found


def has_substitution(text: str) -> bool:
    """True if `text` contains a `${...}` that the collector expands (`$$` is an escaped `$`)."""
    return "${" in text.replace("$$", "")


def substitution_errors(text: str, providers: frozenset[str]) -> list[str]:
    """Syntax errors of the `${...}` references in `text` (confmap rules, README caveat 5)."""
    errors: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            if end < 0:
                return [*errors, f"unclosed `${{` in {text!r}"]
            errors.extend(_uri_errors(text[i + 2 : end], providers))
            i = end + 1
        else:
            i += 1
    return errors


def _closing_brace(text: str, start: int) -> int:
    depth, j = 1, start
    while j < len(text):
        if text.startswith("${", j):
            depth, j = depth + 1, j + 2
            continue
        if text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


def _uri_errors(uri: str, providers: frozenset[str]) -> list[str]:
    if not uri:
        return ["empty `${}`"]
    if ":" not in uri:  # no scheme: the default scheme is env, so this must be a variable name
        if ENV_NAME.fullmatch(uri):
            return []
        return [f"`{uri}` in `${{{uri}}}` is not a valid environment variable name"]
    scheme, _, rest = uri.partition(":")
    if scheme not in providers:
        return [
            f"unknown provider scheme `{scheme}` in `${{{uri}}}` (known: {', '.join(sorted(providers))}; "
            f"for a default value write `${{env:NAME:-default}}`)"
        ]
    if scheme == "env":
        name, _, default = rest.partition(":-")
        if not ENV_NAME.fullmatch(name):
            return [f"`{name}` in `${{{uri}}}` is not a valid environment variable name"]
        return substitution_errors(default, providers)
    if not rest:
        return [f"`${{{uri}}}` has no value after the scheme"]
    return substitution_errors(rest, providers)


def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list"}.get(type(value), "mapping")
    return f"{kind} {value!r}" if not isinstance(value, Mapping | list) else kind


def _unknown_key(key: str, allowed: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"did you mean `{close[0]}`?" if close else f"allowed: {', '.join(sorted(allowed)) or 'none'}"
    return f"unknown key `{key}` ({hint})"


def _iter_pattern(value: Any, parts: list[str], path: str) -> Iterator[tuple[str, Any]]:
    if not parts:
        yield path, value
    elif parts[0] == "[]" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _iter_pattern(item, parts[1:], f"{path}[{i}]")
    elif parts[0] == "*" and isinstance(value, Mapping):
        for key, item in value.items():
            yield from _iter_pattern(item, parts[1:], f"{path}.{key}")
    elif isinstance(value, Mapping) and parts[0] in value:
        yield from _iter_pattern(value[parts[0]], parts[1:], f"{path}.{parts[0]}")


def _iter_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _iter_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _iter_strings(item, f"{path}[{i}]")


class _Validator:
    def __init__(self, reference: Reference) -> None:
        self.ref = reference
        self.problems: list[Problem] = []
        self.extra_keys: dict[str, frozenset[str]] = {}

    def report(self, path: str, message: str, severity: Literal["error", "warning"] = "error") -> None:
        self.problems.append(Problem(path, message, severity))

    # --- components -------------------------------------------------------------------------------
    def component(self, cls: str, comp_id: str, config: Any) -> None:
        path = f"{cls}.{comp_id}"
        type_ = self.component_type(cls, comp_id, path)
        node = self.ref.component_schema(cls, type_) if type_ else None
        if type_ is None or node is None or config is None:
            return
        view = config
        if isinstance(config, Mapping) and (cls, type_) in STRING_OR_OBJECT_ITEMS:
            view = dict(config)  # hide OTTL string items (checked below) from the object-only item schema
            for key in STRING_OR_OBJECT_ITEMS[(cls, type_)]:
                if isinstance(view.get(key), list):
                    view[key] = [None if isinstance(item, str) else item for item in view[key]]
        self.extra_keys = SCHEMA_SKEW_EXTRA_KEYS.get((cls, type_), {})
        self.value(view, node, path, ())
        for pattern in OTTL_FIELDS.get((cls, type_), ()):
            for ottl_path, ottl in _iter_pattern(config, pattern.replace("[]", ".[]").split("."), path):
                if not isinstance(ottl, Mapping) and not (isinstance(ottl, str) and ottl.strip()):
                    self.report(ottl_path, f"OTTL must be a non-empty string, got {_describe(ottl)}")

    def component_type(self, cls: str, comp_id: str, path: str) -> str | None:
        """Check `type[/name]` against components.yaml; return the canonical type to validate the config with."""
        type_, slash, name = comp_id.partition("/")
        if not COMPONENT_TYPE.fullmatch(type_) or (slash and not COMPONENT_NAME.fullmatch(name)):
            self.report(path, f"invalid component ID `{comp_id}` (expected `type[/name]`)")
            return None
        info = self.ref.component(cls, type_)
        if info is None:
            similar = self.ref.lookalike(cls, type_)
            if similar is not None:
                self.report(
                    path,
                    f"`{type_}` is not in components.yaml, but `{similar.type}` is, with only "
                    f"{similar.confidence} confidence; it may have been renamed",
                    "warning",
                )
                return similar.type
            known = sorted({i.type for i in self.ref.components[cls].values()})
            close = difflib.get_close_matches(type_, known, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            self.report(path, f"unknown {cls[:-1]} type `{type_}` in otelcol-contrib {self.ref.version}{hint}")
            return None
        if type_ != info.type:
            severity: Literal["error", "warning"] = "error" if info.confidence in ("exact", "high") else "warning"
            self.report(path, f"use {info.type}, `{type_}` is a deprecated alias", severity)
        return info.type

    def value(self, value: Any, node: SchemaNode, path: str, keys: tuple[str, ...]) -> None:
        """Check `value` against a schema node; `keys` is the object-key path, for SCHEMA_SKEW_EXTRA_KEYS."""
        resolved = self.ref.resolve(node)
        if resolved is None:
            return
        schema = resolved.schema
        custom = schema.get("x-customType")
        if custom == "any" or (isinstance(value, str) and has_substitution(value)):
            return
        if resolved.def_name in ALSO_A_STRING_MAP and isinstance(value, Mapping):
            for key, item in value.items():
                self.value(item, SchemaNode({"type": "string"}, resolved.package), f"{path}.{key}", keys)
            return
        expected = schema.get("type") or ("object" if "properties" in schema or "allOf" in schema else None)
        if value is None:
            if expected not in (None, "object", "array"):
                self.report(path, f"null where a {expected} is expected (give a value or remove the key)")
            return
        if schema.get("format") == "duration":
            self.duration(value, path)
        elif expected == "object":
            self.object(value, resolved, path, keys)
        elif expected == "array":
            if not isinstance(value, list):
                self.report(path, f"expected a list, got {_describe(value)}")
                return
            items = schema.get("items")
            for i, item in enumerate(value):
                if isinstance(items, Mapping):
                    self.value(item, SchemaNode(items, resolved.package), f"{path}[{i}]", keys)
        elif expected in SCALAR_CHECKS and not SCALAR_CHECKS[expected](value):
            lenient = (custom is not None and custom not in BASIC_GO_TYPES) or (
                resolved.named and isinstance(value, str)
            )
            if not lenient:
                self.report(path, f"expected {expected}, got {_describe(value)}")

    def object(self, value: Any, node: SchemaNode, path: str, keys: tuple[str, ...]) -> None:
        if not isinstance(value, Mapping):
            self.report(path, f"expected a mapping, got {_describe(value)}")
            return
        props, is_open = self.ref.properties(node)
        additional = node.schema.get("additionalProperties")
        extra = self.extra_keys.get(".".join(keys), frozenset())
        for raw_key, item in value.items():
            key = str(raw_key)
            if key in props:
                self.value(item, props[key], f"{path}.{key}", (*keys, key))
            elif isinstance(additional, Mapping):
                self.value(item, SchemaNode(additional, node.package), f"{path}.{key}", (*keys, key))
            elif not (is_open or additional is True or key in extra):
                self.report(f"{path}.{key}", _unknown_key(key, props))

    def duration(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.report(
                path,
                f"expected a Go duration string such as `5s` or `500ms`, got {_describe(value)} "
                "(a bare number is read as nanoseconds)",
            )
        elif not GO_DURATION.fullmatch(value):
            self.report(path, f"`{value}` is not a Go duration (write e.g. `500ms`, `5s`, `1h30m`)")

    # --- service ----------------------------------------------------------------------------------
    def service(self, config: Mapping[str, Any]) -> None:
        section_values = {cls: config.get(cls) for cls in CLASSES}
        defined = {cls: {str(k) for k in s} if isinstance(s, Mapping) else set() for cls, s in section_values.items()}
        service = config.get("service")
        if not isinstance(service, Mapping):
            self.report("service", "missing or not a mapping: a collector needs service.pipelines")
            return
        for key in service:
            if key not in ("extensions", "pipelines", "telemetry"):
                self.report(f"service.{key}", f"unknown key `{key}` (allowed: extensions, pipelines, telemetry)")
        enabled = self.id_list(service.get("extensions") or [], "service.extensions", ("extensions",), defined)
        for ext in sorted(defined["extensions"] - {ext for _, ext in enabled}):
            self.report(
                f"extensions.{ext}",
                "defined but not listed in service.extensions (the collector ignores it)",
                "warning",
            )
        pipelines = service.get("pipelines")
        if not isinstance(pipelines, Mapping) or not pipelines:
            self.report("service.pipelines", "missing: define at least one pipeline")
            return
        uses: dict[tuple[str, str], dict[str, set[str]]] = {}  # (class, id) -> role -> pipeline IDs
        for pipeline_id, pipeline in pipelines.items():
            path = f"service.pipelines.{pipeline_id}"
            if not PIPELINE_ID.fullmatch(str(pipeline_id)):
                self.report(path, f"unknown pipeline signal in `{pipeline_id}` (expected {'|'.join(SIGNALS)}[/name])")
            if not isinstance(pipeline, Mapping):
                self.report(path, "a pipeline must be a mapping with receivers and exporters")
                continue
            for key in pipeline:
                if key not in ("receivers", "processors", "exporters"):
                    self.report(f"{path}.{key}", f"unknown key `{key}` (allowed: receivers, processors, exporters)")
            for role, sections in (
                ("receivers", ("receivers", "connectors")),
                ("processors", ("processors",)),
                ("exporters", ("exporters", "connectors")),
            ):
                ids = pipeline.get(role) or []
                if not ids and role != "processors":
                    self.report(f"{path}.{role}", f"a pipeline needs at least one entry in {role}")
                for cls, comp_id in self.id_list(ids, f"{path}.{role}", sections, defined):
                    uses.setdefault((cls, comp_id), {}).setdefault(role, set()).add(str(pipeline_id))
        self.unused(defined, uses)

    def id_list(
        self,
        ids: Any,
        path: str,
        sections: tuple[str, ...],
        defined: Mapping[str, set[str]],
    ) -> list[tuple[str, str]]:
        """Check a list of component IDs that must be defined in one of `sections`; return (class, id) pairs."""
        if not isinstance(ids, list):
            self.report(path, f"expected a list of component IDs, got {_describe(ids)}")
            return []
        found: list[tuple[str, str]] = []
        for i, comp_id in enumerate(ids):
            if not isinstance(comp_id, str):
                self.report(f"{path}[{i}]", f"expected a component ID string, got {_describe(comp_id)}")
                continue
            cls = next((c for c in sections if comp_id in defined[c]), None)
            if comp_id in [c for _, c in found]:
                self.report(f"{path}[{i}]", f"`{comp_id}` is listed twice")
            elif cls is None:
                self.report(f"{path}[{i}]", f"`{comp_id}` is not defined under {' or '.join(sections)}")
            else:
                found.append((cls, comp_id))
        return found

    def unused(self, defined: Mapping[str, set[str]], uses: Mapping[tuple[str, str], Mapping[str, set[str]]]) -> None:
        for cls in ("receivers", "processors", "exporters", "connectors"):
            for comp_id in sorted(defined[cls]):
                roles = uses.get((cls, comp_id), {})
                path = f"{cls}.{comp_id}"
                if not roles:
                    self.report(path, "defined but not used in any service pipeline")
                elif cls == "connectors":
                    as_exporter, as_receiver = roles.get("exporters", set()), roles.get("receivers", set())
                    if not as_receiver:
                        self.report(path, "connector is used as an exporter but never as a receiver")
                    elif not as_exporter:
                        self.report(path, "connector is used as a receiver but never as an exporter")
                    elif not any(p != q for p in as_exporter for q in as_receiver):
                        self.report(path, "connector must link two different pipelines")


def validate(config: Mapping[str, Any], reference: Reference) -> list[Problem]:
    """All problems of a parsed collector config (errors and warnings), in a stable order."""
    check = _Validator(reference)
    for key in config:
        if key not in (*CLASSES, "service"):
            check.report(str(key), f"unknown top-level key `{key}` (allowed: {', '.join(CLASSES)}, service)")
    for cls in CLASSES:
        section = config.get(cls)
        if section is not None and not isinstance(section, Mapping):
            check.report(cls, f"expected a mapping of component IDs, got {_describe(section)}")
            continue
        for comp_id, comp_config in (section or {}).items():
            check.component(cls, str(comp_id), comp_config)
    check.service(config)
    for path, text in _iter_strings(config, ""):
        for message in substitution_errors(text, reference.providers):
            check.report(path, message)
    return check.problems


def validate_file(path: Path | str, reference: Reference | None = None) -> list[Problem]:
    """Load a YAML file (yaml.safe_load) and validate it; YAML syntax errors are returned as a Problem."""
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return [Problem("", f"not valid YAML: {exc}")]
    if not isinstance(config, Mapping):
        return [Problem("", "the file must contain a YAML mapping")]
    return validate(config, reference or load_reference())
