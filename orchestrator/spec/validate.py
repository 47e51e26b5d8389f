"""Phase 3: check one interpolated file against the model and report the first problem by location."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import ValidationError

from orchestrator.spec.errors import SchemaError
from orchestrator.spec.model import ComposeFile
from orchestrator.spec.value_checks import check_values
from orchestrator.spec.yamlsource import Path_, SourceMap

_RESOURCE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_SECTIONS = ("services", "networks", "volumes", "secrets", "configs", "models")


def validate_file(data: Any, source: SourceMap) -> dict[str, Any]:
    """Validate one file; return it in long form with only the keys the file wrote."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SchemaError("a Compose file must be a mapping at the top level", source.locate(()))
    check_values(data, source)
    for section in _SECTIONS:
        items = data.get(section)
        if not isinstance(items, dict):
            continue
        for name, body in items.items():
            if not _RESOURCE_NAME.match(name):
                raise SchemaError(f"invalid {section[:-1]} name {name!r}: use letters, digits, '.', '_' and '-'",
                                  source.locate((section, name), key=True))
            if section == "services" and isinstance(body, dict) and "name" in body:
                raise SchemaError(_unknown_message("name", (section, name), ["hostname", "container_name"]),
                                  source.locate((section, name, "name"), key=True))
    try:
        model = ComposeFile.model_validate(data)
    except ValidationError as exc:
        raise schema_error(exc, data, source, ()) from None
    return model.model_dump(exclude_unset=True)


def schema_error(exc: ValidationError, data: Any, source: SourceMap, prefix: Path_) -> SchemaError:
    """The first validation error, located in the file, with a suggestion for misspelt keys."""
    error = exc.errors()[0]
    path = (*prefix, *_data_path(error["loc"], data))
    if error["type"] == "unknown_key":
        ctx = error.get("ctx") or {}
        key = str(ctx.get("key"))
        return SchemaError(_unknown_message(key, path, list(ctx.get("known") or [])),
                           source.locate((*path, key), key=True))
    message = str(error["msg"]).removeprefix("Value error, ")
    dotted = ".".join(str(p) for p in path) or "top level"
    return SchemaError(f"{dotted}: {message}", source.locate(path))


def _unknown_message(key: str, path: Path_, known: list[str]) -> str:
    where = ".".join(str(p) for p in path) or "the top level"
    message = f"unknown key {key!r} in {where}"
    close = difflib.get_close_matches(key, known, n=1)
    return f"{message} (did you mean {close[0]!r}?)" if close else message


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path_:
    """Keep the parts of a pydantic location that index into the data (drop union branch names)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
    return tuple(path)
