"""Volumes on disk: ``<volumes>/<name>/_data`` and ``<volumes>/<name>/volume.json``.

``volume.json`` records what `docker volume inspect` shows: driver, options, labels and the
creation time. Options are fixed when a volume is created, as with Docker's local driver: asking
for the same name with other options is refused instead of silently mounting the old ones.
A directory without ``volume.json`` (made before pyorch recorded them) is a plain local volume.
Which containers use a volume is the container runtime's knowledge; it is handed in.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import RuntimeFailure
from runtime.volume.local import LocalMount, plan_local

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
META = "volume.json"
DATA = "_data"


class VolumeNotFound(RuntimeFailure):
    """No volume of that name."""


class VolumeInUse(RuntimeFailure):
    """A container still uses the volume."""


class VolumeConflict(RuntimeFailure):
    """The volume exists with other driver options."""


@dataclass
class Volume:
    name: str
    path: Path                       # <volumes>/<name>
    driver: str = "local"
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0

    @property
    def mountpoint(self) -> Path:
        return self.path / DATA

    @property
    def anonymous(self) -> bool:
        return "com.docker.volume.anonymous" in self.labels

    def mount(self) -> LocalMount:
        return plan_local(self.name, self.driver, self.options)

    def inspect(self) -> dict[str, Any]:
        """`docker volume inspect`'s fields."""
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at))
        return {"CreatedAt": created, "Driver": self.driver, "Labels": dict(self.labels),
                "Mountpoint": str(self.mountpoint), "Name": self.name, "Options": dict(self.options) or None,
                "Scope": "local"}


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise RuntimeFailure(f"invalid volume name {name!r}: use letters, digits, '_', '.', '-'")
    return name


class VolumeStore:
    """The volumes under one state root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure(self, name: str, options: dict[str, str] | None = None, labels: dict[str, str] | None = None,
               driver: str = "local") -> Volume:
        """The volume, created when missing. Options are checked first (nothing is made for bad ones);
        ``options`` None takes an existing volume as it is."""
        check_name(name)
        wanted = Volume(name, self.root / name, driver or "local", dict(options or {}), dict(labels or {}),
                        time.time())
        wanted.mount()  # refuses options pyorch cannot apply
        existing = self._load(name)
        if existing is None:
            existing = self._create(wanted)
        if options is not None and (existing.driver, existing.options) != (wanted.driver, wanted.options):
            raise VolumeConflict(f"volume {name} exists with driver options {existing.options or 'none'}; "
                                 f"remove it (pyorch volume rm {name}) to use {wanted.options or 'none'}")
        return existing

    def _create(self, volume: Volume) -> Volume:
        volume.mountpoint.mkdir(parents=True, exist_ok=True)
        temporary = volume.path / f".{META}.{os.getpid()}.{time.monotonic_ns()}"
        temporary.write_text(json.dumps({"driver": volume.driver, "options": volume.options,
                                         "labels": volume.labels, "created_at": volume.created_at}))
        try:
            os.link(temporary, volume.path / META)  # the first of two concurrent creates wins
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
        loaded = self._load(volume.name)
        assert loaded is not None
        return loaded

    def _load(self, name: str) -> Volume | None:
        path = self.root / name
        if not path.is_dir():
            return None
        try:
            raw = json.loads((path / META).read_text())
        except FileNotFoundError:
            return Volume(name, path, created_at=path.stat().st_mtime)  # made before volume.json existed
        except (OSError, ValueError) as exc:
            raise RuntimeFailure(f"volume {name}: unreadable {META}: {exc}") from exc
        return Volume(name, path, str(raw.get("driver") or "local"), dict(raw.get("options") or {}),
                      dict(raw.get("labels") or {}), float(raw.get("created_at") or 0.0))

    def get(self, name: str) -> Volume:
        volume = self._load(check_name(name))
        if volume is None:
            raise VolumeNotFound(f"no such volume: {name}")
        return volume

    def list(self) -> list[Volume]:
        if not self.root.is_dir():
            return []
        found = [self._load(p.name) for p in sorted(self.root.iterdir()) if p.is_dir() and NAME.match(p.name)]
        return [v for v in found if v is not None]

    def remove(self, name: str, users: builtins.list[str]) -> None:
        """Remove the volume and its data (a bind volume's host directory stays); refused while used."""
        volume = self.get(name)
        if users:
            raise VolumeInUse(f"remove {name}: volume is in use - [{', '.join(users)}]")
        shutil.rmtree(volume.path)

    def size(self, volume: Volume) -> int:
        """Bytes of the volume's own data (what `prune` reclaims)."""
        total = 0
        for directory, _, files in os.walk(volume.mountpoint):
            for name in files:
                try:
                    total += os.lstat(os.path.join(directory, name)).st_size
                except OSError:
                    pass
        return total
