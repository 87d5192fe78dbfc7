"""Files people write (price overrides, budgets): read YAML or JSON, validate, and say what is wrong.

A message names the file, the entry (`models[1] (provider=vllm, model=llama-x)`) and the field, so
the user can fix the file without reading a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported when a file is read: importing the package does not import pydantic
    from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound="BaseModel")


class ConfigFileError(ValueError):
    """A file is unreadable or invalid; the message names file, entry and field."""


def load_config_file(
    path: str | os.PathLike[str],
    schema: type[Model],
    *,
    error: type[ConfigFileError],
    naming_keys: Sequence[str],
) -> Model:
    """Read `path` (JSON by its suffix, else YAML) and validate it with `schema`, or raise `error`.

    `naming_keys` are the fields that identify an entry of a list in error messages.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{path}: cannot read: not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from None
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        raw = json.loads(text, object_pairs_hook=_unique_keys) if kind == "JSON" else _load_yaml(text)
    except _DuplicateKey as exc:
        raise error(f"{path}: {exc}") from None
    except Exception as exc:  # json.JSONDecodeError or yaml.YAMLError, with line and column
        raise error(f"{path}: not valid {kind}: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping with {', '.join(schema.model_fields)}")
    from pydantic import ValidationError

    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise error(_describe(path, raw, exc, naming_keys)) from None


class _DuplicateKey(ValueError):
    """A key given twice in one mapping: YAML and JSON parsers silently keep only the last one."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"duplicate key {key!r} in a JSON object: give each key once")
        result[key] = value
    return result


def _load_yaml(text: str) -> Any:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            # Checked before merge keys (`<<: *defaults`) are expanded, so a key may override a merged one.
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    also = "" if first == line else f" (first on line {first})"
                    raise _DuplicateKey(f"duplicate key {key!r} on line {line}{also}: give each key once")
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: no arbitrary objects


def _describe(path: Path, raw: dict[str, Any], error: ValidationError, naming_keys: Sequence[str]) -> str:
    lines = [f"{path}: {error.error_count()} invalid field(s)"]
    for item in error.errors():
        loc = item["loc"]
        entry = ""
        if len(loc) >= 2 and isinstance(loc[1], int):
            section, index = str(loc[0]), loc[1]
            entry = f"{section}[{index}]"
            try:
                fields = raw[section][index]
                named = ", ".join(f"{k}={fields[k]}" for k in naming_keys if k in fields)
                if named:
                    entry += f" ({named})"
            except (KeyError, IndexError, TypeError):
                pass
            field_path = ".".join(str(part) for part in loc[2:]) or "(entry)"
        else:
            field_path = ".".join(str(part) for part in loc) or "(file)"
        where = f"{entry} field {field_path}" if entry else f"field {field_path}"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)
