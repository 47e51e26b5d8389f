"""Creates, finds and lists the cgroups of one pyorch instance.

Every container gets ``<hierarchy root>/<instance parent>/<name>`` in each hierarchy, where the
instance parent is `HostLayout.cgroup_parent`. The parent sits at the hierarchy roots, not below
the engine's own cgroup: on v2 the engine must not live in a cgroup whose children it limits.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from runtime.cgroups import fs, v1, v2
from runtime.cgroups.cgroup import Cgroup
from runtime.cgroups.detect import V2_CONTROLLERS, CgroupLayout, detect, layout_of_tree
from runtime.cgroups.errors import CgroupBusy, CgroupError, ControllerUnavailable
from runtime.cgroups.resources import Resources, validate
from runtime.layout import HostLayout


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name or name.startswith("cgroup."):
        raise CgroupError(f"{name!r} cannot name a cgroup (one path component, not 'cgroup.*')")


def _mkdir(path: Path) -> bool:
    """mkdir; True if this call created it."""
    try:
        os.mkdir(path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        raise CgroupError(f"cannot create cgroup {path}: {exc.strerror}") from exc


def _inherit_cpuset(source: Path, target: Path) -> None:
    """A v1 cpuset cgroup starts with empty cpus/mems and refuses tasks until they are set."""
    for key in ("cpuset.cpus", "cpuset.mems"):
        if not fs.read(target / key):
            fs.write(target / key, fs.read(source / key))


class CgroupManager:
    def __init__(self, host: HostLayout, layout: CgroupLayout) -> None:
        self.layout = layout
        self.parent = host.cgroup_parent

    @property
    def mode(self) -> str:
        return self.layout.mode

    def _handle(self, name: str, existing_only: bool = False) -> Cgroup:
        v1_dirs = {c: root / self.parent / name for c, root in self.layout.v1.items()
                   if root in self.layout.hierarchies}
        unified = self.layout.unified / self.parent / name if self.layout.unified is not None else None
        if existing_only:
            v1_dirs = {c: d for c, d in v1_dirs.items() if d.is_dir()}
            unified = unified if unified is not None and unified.is_dir() else None
        return Cgroup(name, self.layout.mode, v1_dirs, unified)

    def plan(self, name: str, resources: Resources) -> Cgroup:
        """The cgroup `create` would make, with bad values and missing controllers refused; no
        side effect, so a caller can check first and create later (beside other work)."""
        _check_name(name)
        validate(resources)
        cgroup = self._handle(name)
        if self.layout.mode == "v2":
            missing = [c for c in v2.needed_controllers(resources) if c not in self.layout.v2_controllers]
            if missing:
                raise ControllerUnavailable(f"limits need the {', '.join(missing)} controller(s), which cgroup2 "
                                  f"at {self.layout.unified} does not offer")
        else:
            missing = v1.missing_controllers(resources, cgroup.v1_dirs)
            if missing:
                raise ControllerUnavailable(f"limits need the {', '.join(missing)} controller(s), which this host "
                                  "has not mounted")
        return cgroup

    def create(self, name: str, resources: Resources) -> Cgroup:
        """Make the cgroup in every hierarchy and write its limits; idempotent.

        Bad values and missing controllers are refused before any directory is made.
        """
        cgroup = self.plan(name, resources)
        created: list[Path] = []
        try:
            for root in self.layout.hierarchies:
                parent = root / self.parent
                is_cpuset = root == self.layout.v1.get("cpuset")
                _mkdir(parent)
                if is_cpuset:
                    _inherit_cpuset(root, parent)
                if _mkdir(parent / name):
                    created.append(parent / name)
                if is_cpuset:
                    _inherit_cpuset(parent, parent / name)
            if self.layout.unified is not None:
                parent = self.layout.unified / self.parent
                _mkdir(parent)
                if self.layout.mode == "v2":
                    v2.enable_controllers([self.layout.unified, parent], list(V2_CONTROLLERS))
                if _mkdir(parent / name):
                    created.append(parent / name)
            cgroup.update(resources)
        except CgroupError:
            for directory in reversed(created):
                try:
                    fs.remove_tree(directory)
                except CgroupError:
                    pass
            raise
        return cgroup

    def open(self, name: str) -> Cgroup | None:
        """The cgroup if it exists in any hierarchy (e.g. after an engine restart), else None."""
        _check_name(name)
        cgroup = self._handle(name, existing_only=True)
        return cgroup if cgroup.directories else None

    def list(self) -> list[str]:
        """Names under the instance parent in any hierarchy, so half-made ones are collected too."""
        names: set[str] = set()
        for root in self.layout.roots:
            try:
                names.update(p.name for p in (root / self.parent).iterdir() if p.is_dir())
            except FileNotFoundError:
                continue
        return sorted(names)

    def remove_parent_if_unused(self) -> bool:
        """Remove the instance's parent directories unless a cgroup is left in them; True if gone.

        Tries rmdir straight away (EBUSY while a child cgroup exists) instead of listing every
        hierarchy first: after each container's removal that is one syscall, not a directory
        walk of ten hierarchies.
        """
        for root in self.layout.roots:
            try:
                os.rmdir(root / self.parent)
            except FileNotFoundError:
                continue
            except OSError as exc:
                if exc.errno in (errno.EBUSY, errno.ENOTEMPTY):
                    return False
                raise CgroupError(f"cannot remove {root / self.parent}: {exc.strerror}") from exc
        return True

    def remove_parent(self) -> None:
        """Remove the instance's parent directories; they must hold no cgroup any more."""
        left = self.list()
        if left or not self.remove_parent_if_unused():
            raise CgroupBusy(f"cgroups {left or '(appearing meanwhile)'} still exist under {self.parent}")


def open_cgroups(host: HostLayout, layout: CgroupLayout | None = None, root: Path | None = None) -> CgroupManager:
    """The manager for this host (detected), for a given layout, or for a tree at ``root``
    (a real cgroup2 mount or a fixture directory in tests)."""
    if layout is None:
        layout = layout_of_tree(root) if root is not None else detect()
    return CgroupManager(host, layout)
