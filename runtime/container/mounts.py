"""Turning requested mounts into what the container child mounts: checked host paths and volume dirs.

Host-side checks happen here, before any fork: a bind source must be an absolute path (created when
asked, like Compose's short syntax), a named volume is made (runtime/volume/) and mounted as its
driver options say, targets must be absolute and may not climb out with "..". Symlinks inside the
image are refused by the child when it walks to each target (`child._safe_path`).
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from runtime.container.runconfig import AnonymousVolumes, Mount
from runtime.container.spec import BindMount, TmpfsMount
from runtime.errors import ConfigurationError
from runtime.volume import VolumeStore


class MountError(ConfigurationError):
    """A mount request that cannot be honoured safely."""


def _check_target(target: str) -> str:
    if not target.startswith("/"):
        raise MountError(f"mount target {target!r} must be an absolute path")
    normal = posixpath.normpath(target)
    if ".." in target.split("/"):
        raise MountError(f"mount target {target!r} must not contain '..'")
    return normal


def image_volume_mounts(paths: list[str], mounts: list[Mount], anonymous: AnonymousVolumes | None) -> list[Mount]:
    """The image's VOLUME paths that no requested mount covers, each as an anonymous volume."""
    if anonymous is None:
        return []
    taken = {posixpath.normpath(m.target) for m in mounts}
    return [Mount("volume", posixpath.normpath(path), anonymous.name_for(path), volume_labels=dict(anonymous.labels))
            for path in paths if posixpath.normpath(path) not in taken]


def resolve_mounts(mounts: list[Mount], volumes_dir: Path) -> tuple[list[BindMount], list[TmpfsMount]]:
    volumes = VolumeStore(volumes_dir)
    binds: list[BindMount] = []
    tmpfs: list[TmpfsMount] = []
    for m in mounts:
        target = _check_target(m.target)
        if m.type == "tmpfs":
            tmpfs.append(TmpfsMount(target, m.tmpfs_size, m.tmpfs_mode))
        elif m.type == "volume":
            volume = volumes.ensure(m.source, m.volume_options, m.volume_labels, m.volume_driver)
            plan = volume.mount()
            if plan.kind == "tmpfs":
                tmpfs.append(TmpfsMount(target, options=plan.tmpfs_options, populate=m.copy_image_content,
                                        volume=volume.name))
            elif plan.kind == "bind":
                if not os.path.isdir(plan.device):
                    raise MountError(f"volume {volume.name}: device {plan.device} is not a directory on this host")
                binds.append(BindMount(plan.device, target, m.read_only or plan.read_only,
                                       populate=m.copy_image_content, volume=volume.name))
            else:
                binds.append(BindMount(str(volume.mountpoint), target, m.read_only, populate=m.copy_image_content,
                                       volume=volume.name))
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
