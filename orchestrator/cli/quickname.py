"""The project name without loading the Compose model, when it is plain to see.

Verbs such as `down`, `ps` or `logs` only need the name; loading the model costs about a third
of a second of imports. Compose's precedence is kept (-p, then COMPOSE_PROJECT_NAME, then the
last top-level `name:`, then the project directory's name), and the files are found as Compose
finds them (`-f`, else compose.yaml in the working directory or a parent, with its override);
anything less plain (interpolation, an `.env` file that may set the variable, `COMPOSE_FILE`,
stdin, several default files in one directory) returns None and the caller loads the project
as usual.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path

from orchestrator.spec.discovery import ambiguous_default_warning, discover_files, normalize_project_name
from orchestrator.spec.errors import ComposeError

_VALID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_NAME_LINE = re.compile(r"^name:[ \t]*(?P<value>[^\s#'\"]+)[ \t]*(#.*)?$", re.MULTILINE)


def quick_project_name(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    if args.project_name:
        return str(args.project_name) if _VALID.fullmatch(args.project_name) else None
    if (args.file and "-" in args.file) or args.env_file or "COMPOSE_ENV_FILES" in environ:
        return None
    explicit_dir = Path(args.project_directory) if args.project_directory else None
    files = [Path(f) for f in args.file] if args.file else _discovered(explicit_dir or Path.cwd(), environ)
    if not files:
        return None
    directory = explicit_dir or files[0].parent
    if any((d / ".env").exists() for d in {directory, files[0].parent}):
        return None  # it may set COMPOSE_PROJECT_NAME
    from_env = environ.get("COMPOSE_PROJECT_NAME")
    if from_env:
        return from_env if _VALID.fullmatch(from_env) else None
    name = None
    for file in files:
        try:
            text = file.read_text()
        except OSError:
            return None  # the full load reports it properly
        if re.search(r"^name:", text, re.MULTILINE):
            match = _NAME_LINE.search(text)
            if match is None or not _VALID.fullmatch(match["value"]):
                return None
            name = match["value"]
    if name is None:  # Compose's last choice: the project directory's name
        name = normalize_project_name(directory.resolve().name) or None
    return name


def _discovered(working_dir: Path, environ: Mapping[str, str]) -> list[Path] | None:
    """The files a plain `pyorch ps` in ``working_dir`` loads (compose.yaml here or in a parent,
    with its override), or None when the full load must decide: `COMPOSE_FILE` (which a `.env`
    may set too), no file, or several default names in one directory (the load warns)."""
    if "COMPOSE_FILE" in environ or (working_dir / ".env").exists():
        return None
    try:
        files = discover_files(working_dir)
    except ComposeError:
        return None
    if ambiguous_default_warning(files) is not None:
        return None
    return files
