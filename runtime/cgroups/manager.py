"""One interface over v1, hybrid and v2 hosts: create, join, limit, kill, observe, remove.

Every container gets one leaf per hierarchy under ``<mount>/<instance parent>/<name>``. On hybrid
hosts the leaf is also made in the cgroup2 mount, as runc does: limits stay on v1, but membership,
`cgroup.kill` and `cgroup.events` come from cgroup2.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

from runtime.cgroups.detect import CgroupLayout, detect
from runtime.cgroups.errors import CgroupError
from runtime.cgroups.limits import v1_writes, v2_writes
from runtime.cgroups.resources import CgroupStats, Resources, validate
from runtime.layout import HostLayout


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        raise CgroupError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc


def _int(text: str) -> int | None:
    return int(text) if text.lstrip("-").isdigit() else None


class Cgroup:
    """One container's cgroup across every hierarchy the host has."""

    def __init__(self, name: str, layout: CgroupLayout, v1_dirs: dict[str, Path], unified: Path | None) -> None:
        self.name = name
        self.layout = layout
        self.v1_dirs = v1_dirs          # controller → leaf directory
        self.unified = unified          # the cgroup2 leaf (v2 and hybrid)

    @property
    def directories(self) -> list[Path]:
        dirs = list(dict.fromkeys(self.v1_dirs.values()))
        if self.unified is not None:
            dirs.append(self.unified)
        return dirs

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.directories]

    def attach(self, pid: int) -> None:
        for procs in self.procs_files:
            for attempt in range(10):  # EINVAL while the task is still being set up (runc retries too)
                try:
                    _write(Path(procs), str(pid))
                    break
                except CgroupError:
                    if attempt == 9:
                        raise
                    time.sleep(0.03)

    def pids(self) -> list[int]:
        source = self.unified or self.v1_dirs.get("pids") or self.v1_dirs.get("memory")
        if source is None:
            return []
        return [int(p) for p in _read(source / "cgroup.procs").split()]

    def populated(self) -> bool:
        if self.unified is not None:
            events = _read(self.unified / "cgroup.events")
            return "populated 1" in events
        return bool(self.pids())

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL every process: cgroup.kill where the kernel has it, else freeze, kill, thaw."""
        kill_file = self.unified / "cgroup.kill" if self.unified is not None else None
        if kill_file is not None and kill_file.exists():
            if self.populated():
                _write(kill_file, "1")
        else:
            self.freeze()
            try:
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            finally:
                self.thaw()
        deadline = time.monotonic() + timeout
        while self.populated():
            if time.monotonic() > deadline:
                raise CgroupError(f"processes of cgroup {self.name} did not die: {self.pids()}")
            time.sleep(0.005)

    def freeze(self) -> None:
        if self.layout.mode == "v2" and self.unified is not None:
            _write(self.unified / "cgroup.freeze", "1")
            return
        freezer = self.v1_dirs.get("freezer")
        if freezer is None:
            raise CgroupError("no freezer controller on this host")
        _write(freezer / "freezer.state", "FROZEN")
        deadline = time.monotonic() + 2.0
        while _read(freezer / "freezer.state") != "FROZEN" and time.monotonic() < deadline:
            time.sleep(0.002)

    def thaw(self) -> None:
        if self.layout.mode == "v2" and self.unified is not None:
            _write(self.unified / "cgroup.freeze", "0")
            return
        freezer = self.v1_dirs.get("freezer")
        if freezer is not None:
            _write(freezer / "freezer.state", "THAWED")

    def oom_kill_count(self) -> int:
        if self.layout.mode == "v2" and self.unified is not None:
            text = _read(self.unified / "memory.events")
        else:
            memory = self.v1_dirs.get("memory")
            text = _read(memory / "memory.oom_control") if memory else ""
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def stats(self) -> CgroupStats:
        if self.layout.mode == "v2" and self.unified is not None:
            d = self.unified
            cpu = next((int(line.split()[1]) * 1000 for line in _read(d / "cpu.stat").splitlines()
                        if line.startswith("usage_usec")), 0)
            return CgroupStats(cpu, _int(_read(d / "memory.current")) or 0, _int(_read(d / "memory.max")),
                               _int(_read(d / "pids.current")) or 0, _int(_read(d / "pids.max")))
        acct = self.v1_dirs.get("cpuacct")
        memory = self.v1_dirs.get("memory")
        pids = self.v1_dirs.get("pids")
        limit = _int(_read(memory / "memory.limit_in_bytes")) if memory else None
        return CgroupStats(
            cpu_usage_ns=_int(_read(acct / "cpuacct.usage")) or 0 if acct else 0,
            memory_bytes=_int(_read(memory / "memory.usage_in_bytes")) or 0 if memory else 0,
            memory_limit=limit if limit is not None and limit < (1 << 62) else None,
            pids=_int(_read(pids / "pids.current")) or 0 if pids else 0,
            pids_limit=_int(_read(pids / "pids.max")) if pids else None,
        )

    def update(self, resources: Resources) -> None:
        validate(resources)
        writes = v2_writes(resources, self.unified) if self.layout.mode == "v2" and self.unified else \
            v1_writes(resources, self.v1_dirs)
        for path, value in writes:
            _write(path, value)

    def remove(self) -> None:
        for directory in reversed(self.directories):
            _rmdir(directory)


def _rmdir(directory: Path) -> None:
    delay = 0.001
    for _ in range(10):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise CgroupError(f"cannot remove cgroup {directory}: {exc.strerror}") from exc
            time.sleep(delay)
            delay *= 2
    raise CgroupError(f"cgroup {directory} stayed busy")


class CgroupManager:
    """Creates and finds the cgroups of one pyorch instance."""

    def __init__(self, host: HostLayout, layout: CgroupLayout | None = None) -> None:
        self.layout = layout or detect()
        self.parent = host.cgroup_parent

    def _dirs(self, name: str) -> tuple[dict[str, Path], Path | None]:
        v1 = {c: mount / self.parent / name for c, mount in self.layout.v1.items()}
        unified = self.layout.unified / self.parent / name if self.layout.unified is not None else None
        return v1, unified

    def create(self, name: str, resources: Resources) -> Cgroup:
        validate(resources)
        v1, unified = self._dirs(name)
        for mount in self.layout.hierarchies:
            parent = mount / self.parent
            parent.mkdir(exist_ok=True)
            if mount == self.layout.v1.get("cpuset"):
                _inherit_cpuset(mount, parent)
            (parent / name).mkdir(exist_ok=True)
            if mount == self.layout.v1.get("cpuset"):
                _inherit_cpuset(parent, parent / name)
        if unified is not None:
            if self.layout.mode == "v2":
                _enable_controllers(self.layout.unified, unified.parent)  # type: ignore[arg-type]
            unified.mkdir(parents=True, exist_ok=True)
        cgroup = Cgroup(name, self.layout, {c: d for c, d in v1.items() if d.exists()}, unified)
        try:
            cgroup.update(resources)
        except CgroupError:
            cgroup.remove()
            raise
        return cgroup

    def open(self, name: str) -> Cgroup | None:
        v1, unified = self._dirs(name)
        present = {c: d for c, d in v1.items() if d.exists()}
        if not present and (unified is None or not unified.exists()):
            return None
        return Cgroup(name, self.layout, present, unified if unified is not None and unified.exists() else None)

    def list(self) -> list[str]:
        base = self.layout.v1.get("memory") or self.layout.unified
        parent = base / self.parent if base is not None else None
        if parent is None or not parent.exists():
            return []
        return sorted(p.name for p in parent.iterdir() if p.is_dir())

    def remove_parent(self) -> None:
        mounts = list(self.layout.hierarchies)
        if self.layout.unified is not None:
            mounts.append(self.layout.unified)
        for mount in mounts:
            _rmdir(mount / self.parent)


def _inherit_cpuset(source: Path, target: Path) -> None:
    """A v1 cpuset cgroup needs cpus and mems before a task may join: copy them from the parent."""
    for key in ("cpuset.cpus", "cpuset.mems"):
        if not _read(target / key):
            _write(target / key, _read(source / key))


def _enable_controllers(root: Path, parent: Path) -> None:
    """v2: a child can only use controllers its ancestors enabled in cgroup.subtree_control."""
    wanted = [c for c in _read(root / "cgroup.controllers").split() if c in ("cpu", "cpuset", "memory", "pids", "io")]
    parent.mkdir(exist_ok=True)
    for directory in (root, parent):
        enabled = set(_read(directory / "cgroup.subtree_control").split())
        for controller in wanted:
            if controller not in enabled:
                try:
                    _write(directory / "cgroup.subtree_control", f"+{controller}")
                except CgroupError:
                    pass  # a controller the kernel will not delegate here: limits on it fail later, clearly


def open_cgroups(host: HostLayout, layout: CgroupLayout | None = None) -> CgroupManager:
    return CgroupManager(host, layout)
