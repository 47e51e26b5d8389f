"""Relative paths in a file → absolute, against the project directory (or the file's own directory
for `extends.file`). `~` in bind sources is the user's home from the given environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_REMOTE_PREFIXES = ("http://", "https://", "git://", "git@", "github.com/", "ssh://")


def _absolute(value: str, base: Path, environment: Mapping[str, str]) -> str:
    if value.startswith("~"):
        home = environment.get("HOME")
        if home and (value == "~" or value.startswith("~/")):
            return os.path.normpath(home + value[1:])
        return value
    if os.path.isabs(value):
        return os.path.normpath(value)
    return os.path.normpath(os.path.join(base, value))


def resolve_paths(data: dict[str, Any], base_dir: Path, file_dir: Path, environment: Mapping[str, str]) -> None:
    """Rewrite, in place, every path-valued attribute that the Compose specification makes relative."""
    for service in (data.get("services") or {}).values():
        build = service.get("build")
        if isinstance(build, dict) and isinstance(build.get("context"), str):
            context = build["context"]
            if not context.startswith(_REMOTE_PREFIXES) and "://" not in context:
                build["context"] = _absolute(context, base_dir, environment)
        for entry in service.get("env_file") or []:
            entry["path"] = _absolute(entry["path"], base_dir, environment)
        if service.get("label_file"):
            service["label_file"] = [_absolute(p, base_dir, environment) for p in service["label_file"]]
        for volume in service.get("volumes") or []:
            if volume.get("type") == "bind" and volume.get("source"):
                volume["source"] = _absolute(volume["source"], base_dir, environment)
        extends = service.get("extends")
        if isinstance(extends, dict) and extends.get("file"):
            extends["file"] = _absolute(extends["file"], file_dir, environment)
        for rule in (service.get("develop") or {}).get("watch") or []:
            rule["path"] = _absolute(rule["path"], base_dir, environment)
    for section in ("secrets", "configs"):
        for resource in (data.get(section) or {}).values():
            if isinstance(resource, dict) and resource.get("file"):
                resource["file"] = _absolute(resource["file"], base_dir, environment)
