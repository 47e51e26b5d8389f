"""Which files make the project, where the project lives, and what it is called."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from orchestrator.spec.errors import ComposeFileNotFound, ProjectNameError

# Compose v2's order of preference (cli/options.go), `.yml` before `.yaml` where it puts it there.
DEFAULT_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILE_NAMES = ("compose.override.yml", "compose.override.yaml",
                       "docker-compose.override.yml", "docker-compose.override.yaml")
STDIN = Path("-")

_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def discover_files(start: Path) -> list[Path]:
    """The first default file in `start` or the nearest parent, plus its override file if any."""
    directory = start.resolve()
    while True:
        for name in DEFAULT_FILE_NAMES:
            candidate = directory / name
            if candidate.is_file():
                files = [candidate]
                override = next((directory / o for o in OVERRIDE_FILE_NAMES if (directory / o).is_file()), None)
                if override is not None:
                    files.append(override)
                return files
        if directory.parent == directory:
            raise ComposeFileNotFound(
                f"no configuration file provided: not found in {start} or its parents "
                f"(looked for {', '.join(DEFAULT_FILE_NAMES)})")
        directory = directory.parent


def ambiguous_default_warning(files: list[Path]) -> str | None:
    """Compose warns when one directory holds several default file names; the first one is used."""
    if not files:
        return None
    directory = files[0].parent
    present = [name for name in DEFAULT_FILE_NAMES if (directory / name).is_file()]
    if len(present) < 2:
        return None
    return f"Found multiple config files with supported names: {', '.join(present)}; using {present[0]}"


def files_from_environment(environment: Mapping[str, str], working_dir: Path) -> list[Path]:
    """`COMPOSE_FILE`, split on `COMPOSE_PATH_SEPARATOR` (default ':'), relative to the working dir."""
    value = environment.get("COMPOSE_FILE", "")
    separator = environment.get("COMPOSE_PATH_SEPARATOR") or ":"
    return [working_dir / p if p != "-" else STDIN for p in value.split(separator) if p]


def normalize_project_name(name: str) -> str:
    """Lowercase, keep [a-z0-9_-], drop leading '_' and '-' (for `name:` and directory names)."""
    cleaned = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return cleaned.lstrip("_-")


def check_project_name(name: str, origin: str) -> str:
    """Names given with -p or COMPOSE_PROJECT_NAME must already be valid; they are not rewritten."""
    if not _VALID_NAME.match(name):
        raise ProjectNameError(
            f"invalid project name {name!r} from {origin}: use lowercase letters, digits, '_' and '-', "
            "starting with a letter or digit")
    return name


def choose_project_name(explicit: str | None, environment: Mapping[str, str], file_name: str | None,
                        project_dir: Path) -> str:
    """-p > COMPOSE_PROJECT_NAME > top-level `name:` > project directory basename."""
    if explicit:
        return check_project_name(explicit, "-p")
    from_env = environment.get("COMPOSE_PROJECT_NAME")
    if from_env:
        return check_project_name(from_env, "COMPOSE_PROJECT_NAME")
    if file_name:
        normalized = normalize_project_name(file_name)
        if normalized:
            return normalized
        raise ProjectNameError(f"project name {file_name!r} from the file has no valid character left")
    normalized = normalize_project_name(project_dir.resolve().name)
    if not normalized:
        raise ProjectNameError(
            f"cannot derive a project name from directory {project_dir}: set one with -p or `name:`")
    return normalized
