"""The project name without loading the Compose model, when it is plain to see.

Verbs such as `down`, `ps` or `logs` only need the name; loading the model costs about a third
of a second of imports. Compose's precedence is kept (-p, then COMPOSE_PROJECT_NAME, then the
last top-level `name:`); anything less plain (interpolation, an `.env` file that may set the
variable, stdin, file discovery) returns None and the caller loads the project as usual.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path

_VALID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_NAME_LINE = re.compile(r"^name:[ \t]*(?P<value>[^\s#'\"]+)[ \t]*(#.*)?$", re.MULTILINE)


def quick_project_name(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    if args.project_name:
        return str(args.project_name) if _VALID.fullmatch(args.project_name) else None
    if not args.file or "-" in args.file or args.env_file:
        return None
    directory = Path(args.project_directory) if args.project_directory else Path(args.file[0]).parent
    if (directory / ".env").exists():
        return None  # it may set COMPOSE_PROJECT_NAME
    from_env = environ.get("COMPOSE_PROJECT_NAME")
    if from_env:
        return from_env if _VALID.fullmatch(from_env) else None
    name = None
    for file in args.file:
        try:
            text = Path(file).read_text()
        except OSError:
            return None  # the full load reports it properly
        if re.search(r"^name:", text, re.MULTILINE):
            match = _NAME_LINE.search(text)
            if match is None or not _VALID.fullmatch(match["value"]):
                return None
            name = match["value"]
    return name
