"""Relative paths in a file → absolute, against the project directory, as Compose v2 resolves them.

A leading `~` is the user's home (`$HOME` of the process). A relative path is joined to the
project directory (and cleaned, as Go's filepath.Join cleans); an absolute path is kept exactly
as written. Build contexts that are URLs, `service:` references or git/http remotes are kept.
`extends.file` is relative to the project directory of the file that names it (the extended
file's own directory for an `extends` inside it), as Compose does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_REMOTE_PREFIXES = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


def _expand_user(value: str, home: str | None) -> str:
    if value.startswith("~") and home:
        return os.path.normpath(os.path.join(home, value[1:].lstrip("/"))) if value[1:] else home
    return value


def absolute(value: str, base: Path, home: str | None) -> str:
    """Go's `filepath.Join(base, value)` for a relative path; an absolute one is kept as written."""
    value = _expand_user(value, home)
    if not value or os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(base, value))


def _context(value: str, base: Path, home: str | None) -> str:
    if "://" in value or value.startswith("service:") or value.startswith(_REMOTE_PREFIXES):
        return value
    return absolute(value, base, home)


def resolve_paths(data: dict[str, Any], base_dir: Path, home: str | None) -> None:
    """Rewrite, in place, every path-valued attribute that the Compose specification makes relative."""
    for service in (data.get("services") or {}).values():
        build = service.get("build")
        if isinstance(build, dict):
            if isinstance(build.get("context"), str):
                build["context"] = _context(build["context"], base_dir, home)
            for name, value in (build.get("additional_contexts") or {}).items():
                build["additional_contexts"][name] = _context(value, base_dir, home)
            if build.get("ssh"):
                build["ssh"] = [_ssh(entry, base_dir, home) for entry in build["ssh"]]
        for entry in service.get("env_file") or []:
            entry["path"] = absolute(entry["path"], base_dir, home)
        if service.get("label_file"):
            service["label_file"] = [absolute(p, base_dir, home) for p in service["label_file"]]
        for volume in service.get("volumes") or []:
            if volume.get("type") == "bind" and volume.get("source"):
                volume["source"] = absolute(volume["source"], base_dir, home)
        extends = service.get("extends")
        if isinstance(extends, dict) and extends.get("file"):
            extends["file"] = absolute(extends["file"], base_dir, home)
        for rule in (service.get("develop") or {}).get("watch") or []:
            rule["path"] = absolute(rule["path"], base_dir, home)
    for section in ("secrets", "configs"):
        for resource in (data.get(section) or {}).values():
            if isinstance(resource, dict) and resource.get("file"):
                resource["file"] = absolute(resource["file"], base_dir, home)
    for volume in (data.get("volumes") or {}).values():
        options = volume.get("driver_opts") if isinstance(volume, dict) else None
        if volume and volume.get("driver") == "local" and options and options.get("o") == "bind" \
                and options.get("device"):
            options["device"] = absolute(options["device"], base_dir, home)


def _ssh(entry: str, base_dir: Path, home: str | None) -> str:
    key, sep, path = entry.partition("=")
    return f"{key}={absolute(path, base_dir, home)}" if sep and path else entry
