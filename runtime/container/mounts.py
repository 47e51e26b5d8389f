"""Turning requested mounts into what the container child mounts: checked host paths and volume dirs.

Host-side checks happen here, before any fork: a bind source must be an absolute path (created when
asked, like Compose's short syntax), a named volume is a directory under the state root, targets
must be absolute and may not climb out with "..". Symlinks inside the image are refused by the child
when it walks to each target (`child._safe_path`).
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from runtime.container.runconfig import Mount
from runtime.container.spec import BindMount, TmpfsMount
from runtime.errors import RuntimeFailure

_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


class MountError(RuntimeFailure):
    """A mount request that cannot be honoured safely."""


def volume_path(volumes_dir: Path, name: str) -> Path:
    if not _VOLUME_NAME.match(name):
        raise MountError(f"invalid volume name {name!r}: use letters, digits, '_', '.', '-'")
    return volumes_dir / name / "_data"


def _check_target(target: str) -> str:
    if not target.startswith("/"):
        raise MountError(f"mount target {target!r} must be an absolute path")
    normal = posixpath.normpath(target)
    if ".." in target.split("/"):
        raise MountError(f"mount target {target!r} must not contain '..'")
    return normal


def resolve_mounts(mounts: list[Mount], volumes_dir: Path) -> tuple[list[BindMount], list[TmpfsMount]]:
    binds: list[BindMount] = []
    tmpfs: list[TmpfsMount] = []
    for m in mounts:
        target = _check_target(m.target)
        if m.type == "tmpfs":
            tmpfs.append(TmpfsMount(target, m.tmpfs_size, m.tmpfs_mode))
        elif m.type == "volume":
            path = volume_path(volumes_dir, m.source)
            path.mkdir(parents=True, exist_ok=True)
            binds.append(BindMount(str(path), target, m.read_only))
        elif m.type == "bind":
            if not os.path.isabs(m.source):
                raise MountError(f"bind source {m.source!r} must be an absolute path")
            source = Path(m.source)
            if not source.exists():
                if not m.create_host_path:
                    raise MountError(f"bind source path does not exist: {m.source}")
                source.mkdir(parents=True, exist_ok=True)
            binds.append(BindMount(str(source), target, m.read_only))
        else:
            raise MountError(f"mount type {m.type!r} is not supported")
    return binds, tmpfs
