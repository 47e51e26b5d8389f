"""Compose inputs sent by the CLI, loaded here into the canonical project.

Why the engine loads them: building the pydantic model costs a CLI process about a quarter of a
second of imports on every `up`, while the engine has it in memory. The CLI still collects what
only it knows (its working directory, its environment, the files named on its command line and
stdin); the loader is pure, so the result is the same project the CLI would have made, with the
same errors (file, line, column) refused before any side effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.errors import EngineError
from orchestrator.spec import LoadOptions, load_project


def _strings(source: dict[str, Any], key: str) -> list[str]:
    value = source.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EngineError(f"source.{key} must be a list of strings")
    return value


def _optional(source: dict[str, Any], key: str) -> str | None:
    value = source.get(key)
    if value is not None and not isinstance(value, str):
        raise EngineError(f"source.{key} must be a string")
    return value


def load_options(source: dict[str, Any]) -> LoadOptions:
    """The CLI's `LoadOptions`, from JSON; paths stay relative to the CLI's working directory."""
    if not isinstance(source, dict):
        raise EngineError("source must be an object")
    working_dir = _optional(source, "working_dir")
    if not working_dir or not Path(working_dir).is_absolute():
        raise EngineError("source.working_dir must be an absolute path")
    environ = source.get("environ") or {}
    if not isinstance(environ, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in environ.items()):
        raise EngineError("source.environ must map strings to strings")
    directory = _optional(source, "project_directory")
    return LoadOptions(
        files=[Path(f) for f in _strings(source, "files")],
        working_dir=Path(working_dir),
        project_name=_optional(source, "project_name"),
        project_directory=Path(directory) if directory else None,
        env_files=[Path(f) for f in _strings(source, "env_files")],
        profiles=_strings(source, "profiles"),
        environ=dict(environ),
        stdin_text=_optional(source, "stdin_text"),
    )


def project_from_source(source: dict[str, Any]) -> dict[str, Any]:
    """The canonical project (as `up` stores it) for the CLI's inputs; ComposeError on bad input."""
    spec: dict[str, Any] = load_project(load_options(source)).model_dump(mode="json")
    return spec
