"""The Compose project as the command line names it: `-f`, `-p`, `--project-directory`,
`--env-file`, `--profile`, the working directory and the environment.

Most verbs send only these inputs (`source`) and let the engine load them; a few load the model
here (`load`). Shared by `main` and the verb modules, so none of them imports another.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.cli import quickname
from orchestrator.cli.console import err
from orchestrator.spec import ComposeError

if TYPE_CHECKING:
    from orchestrator.spec import LoadOptions, Project


def source(args: argparse.Namespace) -> dict[str, object]:
    """What only this process knows about the project (flags, working directory, environment,
    stdin), for the engine to load: the engine has the Compose model in memory, where importing it
    here costs each command about a quarter of a second (orchestrator/engine/compose_source.py)."""
    return {
        "files": list(args.file),
        "working_dir": str(Path.cwd()),
        "project_name": args.project_name,
        "project_directory": args.project_directory,
        "env_files": list(args.env_file),
        "profiles": list(args.profile),
        "environ": dict(os.environ),
        "stdin_text": sys.stdin.read() if "-" in args.file else None,
    }


def load_options(args: argparse.Namespace, services: list[str] | None = None, render_only: bool = False) -> LoadOptions:
    """The loader's inputs from the command line. ``services`` (`config SERVICE…`) are enabled with
    their profiles, and the project is cut down to them and what they depend on; ``render_only``
    (`config`) accepts valid files pyorch could not run (volume drivers it does not have, …)."""
    from orchestrator.spec import LoadOptions  # the model's import is the CLI's slowest part

    return LoadOptions(
        files=[Path(f) for f in args.file],
        working_dir=Path.cwd(),
        project_name=args.project_name,
        project_directory=Path(args.project_directory) if args.project_directory else None,
        env_files=[Path(f) for f in args.env_file],
        profiles=list(args.profile),
        environ=dict(os.environ),
        stdin_text=sys.stdin.read() if "-" in args.file else None,
        services=list(services or []),
        select_services=bool(services),
        render_only=render_only,
    )


def load(args: argparse.Namespace, only_about_the_files: bool = False) -> Project:
    """The model in this process, for verbs that use it themselves (config, run, attached up, …).
    ``only_about_the_files``: of its warnings, print those about the files (interpolation, …), not
    those about what pyorch does not apply: a verb that only needs the project's name (`ps`,
    `logs`, `stop`…) would repeat them at every command, where they matter to `up` and `run`."""
    from orchestrator.spec import load_project
    from orchestrator.spec.support import about_the_model

    project = load_project(load_options(args))
    print_warnings(about_the_model(project.warnings) if only_about_the_files else project.warnings)
    return project


def print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        err.print(f"[yellow]WARN[/] {warning}")


def project_name(args: argparse.Namespace) -> str:
    quick = quickname.quick_project_name(args, os.environ)
    if quick is not None:
        return quick
    if args.project_name and not args.file:
        try:
            return str(load(args, only_about_the_files=True).name)
        except ComposeError:
            return str(args.project_name)
    return str(load(args, only_about_the_files=True).name)
