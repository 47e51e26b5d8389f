"""The project's files merged as written, without interpolation (`config --no-interpolate`,
`config --variables`), and the variables they use.

Files are found and read as `load_project` finds and reads them (the same `.env`, the same
`COMPOSE_FILE`), included files are added, `!reset` and `!override` apply; nothing is
interpolated, validated or converted to the long syntax.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.spec.loader import SECTIONS, LoadOptions, ProjectLoader
from orchestrator.spec.merge import remove_path
from orchestrator.spec.template import PATTERN, first_closing_brace


def load_raw_model(options: LoadOptions) -> dict[str, Any]:
    loader = ProjectLoader(options)
    files, project_dir, _ = loader.resolve_inputs()
    merged: dict[str, Any] = {}
    for file in files:
        for data, directives, _source in loader.parse(file):
            if not isinstance(data, dict):
                continue
            for include in data.pop("include", None) or []:
                for included_file in _include_paths(include, project_dir):
                    for included, _, _ in loader.parse(included_file) if included_file.is_file() else []:
                        if isinstance(included, dict):
                            included.pop("include", None)
                            _merge(merged, included)
            _merge(merged, data)
            for where, directive in directives.items():
                if directive == "reset":
                    remove_path(merged, where)
    return merged


def _include_paths(entry: Any, base: Path) -> list[Path]:
    paths = entry.get("path") if isinstance(entry, dict) else entry
    items = paths if isinstance(paths, list) else [paths]
    return [Path(os.path.normpath(base / str(p))) for p in items if p]


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if key in SECTIONS and isinstance(into.get(key), dict) and isinstance(value, dict):
            for name, body in value.items():
                into[key][name] = _deep_merge(into[key].get(name), body)
        else:
            into[key] = copy.deepcopy(value)


def _deep_merge(base: Any, other: Any) -> Any:
    if isinstance(base, dict) and isinstance(other, dict):
        out = dict(base)
        for key, value in other.items():
            out[key] = _deep_merge(out.get(key), value) if key in out else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(other, list):
        return [*base, *copy.deepcopy(other)]
    return copy.deepcopy(other)


@dataclass(frozen=True)
class Variable:
    """A variable a file uses: `${NAME:-default}`, `${NAME:?…}` (required), `${NAME:+alternate}`."""

    name: str
    default: str = ""
    presence: str = ""
    required: bool = False


def extract_variables(tree: Any) -> dict[str, Variable]:
    """Every variable in the tree's strings, by name, as Compose's `config --variables` lists them."""
    found: dict[str, Variable] = {}
    if isinstance(tree, str):
        for variable in _variables_in(tree):
            found[variable.name] = variable
    elif isinstance(tree, dict):
        for value in tree.values():
            found.update(extract_variables(value))
    elif isinstance(tree, list):
        for value in tree:
            found.update(extract_variables(value))
    return found


def _variables_in(text: str) -> list[Variable]:
    out: list[Variable] = []
    for match in PATTERN.finditer(text):
        if match.group("escaped"):
            continue
        value = match.group("named") or ""
        if not value:
            value = match.group("braced") or ""
            whole = match.group(0)
            closing = first_closing_brace(whole)
            if closing > 0:
                value = whole[2:closing]
                out.extend(_variables_in(whole[closing + 1:]))
        end = next((i for i, c in enumerate(value) if not (c.isascii() and (c.isalnum() or c == "_"))), -1)
        name, default, presence, required = value, "", "", False
        if end > 0:
            name, rest = value[:end], value[end:]
            if rest.startswith((":?", "?")):
                required = True
            elif rest.startswith(":-"):
                default = rest[2:]
            elif rest.startswith("-"):
                default = rest[1:]
            elif rest.startswith(":+"):
                presence = rest[2:]
            elif rest.startswith("+"):
                presence = rest[1:]
        out.append(Variable(name, default, presence, required))
        for nested in (default, presence):
            if nested:
                out.extend(_variables_in(nested))
    return out
