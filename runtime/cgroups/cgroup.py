"""One container's cgroup across every hierarchy the host has, behind one interface.

v1 keeps a leaf per controller hierarchy; v2 has one leaf; hybrid has the v1 leaves for limits
plus a leaf in the cgroup2 mount for membership, cgroup.kill and cgroup.events (as runc does).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from runtime.cgroups import fs, v1, v2
from runtime.cgroups.errors import CgroupError, ControllerUnavailable, InvalidResources
from runtime.cgroups.resources import CgroupStats, Resources, parse_cpu_list, validate


class Cgroup:
    """Handle on an existing cgroup; cheap to build, all state lives in the kernel."""

    def __init__(self, name: str, mode: str, v1_dirs: dict[str, Path], unified: Path | None) -> None:
        self.name = name
        self.mode = mode                 # v1 | hybrid | v2
        self.v1_dirs = v1_dirs           # controller → leaf directory (v1, hybrid)
        self.unified = unified           # cgroup2 leaf (v2, hybrid)

    def __repr__(self) -> str:
        return f"Cgroup({self.name!r}, {self.mode}, {[str(d) for d in self.directories]})"

    @property
    def directories(self) -> list[Path]:
        """Each distinct leaf directory once (cpu and cpuacct may share one)."""
        dirs = list(dict.fromkeys(self.v1_dirs.values()))
        return [*dirs, self.unified] if self.unified is not None else dirs

    @property
    def procs_files(self) -> list[str]:
        """Absolute cgroup.procs paths; a forked child writes its own pid into each, before unsharing."""
        return [os.path.join(d, "cgroup.procs") for d in self.directories]

    # --- membership ------------------------------------------------------------------------
    def attach(self, pid: int) -> None:
        for procs in self.procs_files:
            fs.write_pid(Path(procs), pid)

    def _membership_dir(self) -> Path | None:
        if self.unified is not None:
            return self.unified
        return next(iter(self.v1_dirs.values()), None)

    def pids(self) -> list[int]:
        """Every process in the cgroup and in cgroups the container made below it."""
        top = self._membership_dir()
        if top is None:
            return []
        found: list[int] = []
        for directory, _subdirs, _files in os.walk(top):
            found += [int(p) for p in fs.read(Path(directory) / "cgroup.procs").split()]
        return found

    def populated(self) -> bool:
        if self.unified is not None and (self.unified / "cgroup.events").exists():
            return v2.populated(self.unified)
        return bool(self.pids())

    # --- signals ---------------------------------------------------------------------------
    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL everything and return once the cgroup is empty.

        cgroup.kill where cgroup2 offers it (v2, hybrid); otherwise freeze (so nothing forks while
        we look), SIGKILL each pid, thaw (v1: a frozen task only dies once thawed).
        """
        if not self.populated():
            return
        if self.unified is not None and v2.has_kill(self.unified):
            v2.kill(self.unified)
            if "freezer" in self.v1_dirs and v1.frozen(self.v1_dirs["freezer"]):
                self.thaw()  # hybrid: a task frozen by the v1 freezer takes its SIGKILL only once thawed
        else:
            self._kill_each(timeout)
        if not self._wait_empty(timeout):
            raise CgroupError(f"processes of cgroup {self.name} survived SIGKILL: {self.pids()}")

    def _kill_each(self, timeout: float) -> None:
        can_freeze = "freezer" in self.v1_dirs or self.unified is not None
        for _ in range(100):  # bounded: each round kills everything that was there
            pids = self.pids()
            if not pids:
                return
            if can_freeze and not self.frozen():
                self.freeze(timeout)
            try:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            finally:
                if can_freeze:
                    self.thaw()
            if can_freeze:
                return  # frozen: nothing could fork between listing and killing

    def _wait_empty(self, timeout: float) -> bool:
        if self.unified is not None and (self.unified / "cgroup.events").exists():
            return fs.wait_events(self.unified / "cgroup.events", "populated", 0, timeout)
        return fs.wait_until(lambda: not self.pids(), timeout)

    def _freezer(self) -> tuple[str, Path]:
        # runc uses the v1 freezer on hybrid hosts; cgroup2's core freezer is the fallback.
        if "freezer" in self.v1_dirs:
            return "v1", self.v1_dirs["freezer"]
        if self.unified is not None:
            return "v2", self.unified
        raise ControllerUnavailable("this host has no freezer (v1 freezer controller or cgroup2)")

    def freeze(self, timeout: float = 5.0) -> None:
        kind, directory = self._freezer()
        (v1.freeze if kind == "v1" else v2.freeze)(directory, timeout)

    def thaw(self) -> None:
        kind, directory = self._freezer()
        (v1.thaw if kind == "v1" else v2.thaw)(directory)

    def frozen(self) -> bool:
        kind, directory = self._freezer()
        return v1.frozen(directory) if kind == "v1" else v2.frozen(directory)

    # --- observation -----------------------------------------------------------------------
    def oom_kill_count(self) -> int:
        """How many processes the OOM killer killed in this cgroup (0 without a memory controller)."""
        if self.mode == "v2":
            return v2.oom_kill_count(self.unified) if self.unified is not None else 0
        memory = self.v1_dirs.get("memory")
        return v1.oom_kill_count(memory) if memory is not None else 0

    def stats(self) -> CgroupStats:
        if self.mode == "v2" and self.unified is not None:
            return v2.stats(self.unified)
        return v1.stats(self.v1_dirs)

    # --- limits ----------------------------------------------------------------------------
    def update(self, resources: Resources) -> None:
        """Write ``resources`` (None fields are left alone); refused values change nothing."""
        validate(resources)
        self.check_supported(resources)
        if self.mode == "v2" and self.unified is not None:
            v2.set_limits(resources, self.unified)
        else:
            v1.set_limits(resources, self.v1_dirs)

    def check_supported(self, resources: Resources) -> None:
        """Raise before writing if a limit needs a controller or CPUs this cgroup lacks."""
        if self.mode == "v2" and self.unified is not None:
            offered = set(fs.read(self.unified / "cgroup.controllers").split())
            missing = [c for c in v2.needed_controllers(resources) if c not in offered]
            cpuset_dir, suffix = self.unified.parent, ".effective"
        else:
            missing = v1.missing_controllers(resources, self.v1_dirs)
            cpuset = self.v1_dirs.get("cpuset")
            cpuset_dir, suffix = (cpuset.parent if cpuset else Path("/nonexistent")), ""
        if missing:
            raise ControllerUnavailable(
                f"limits need the {', '.join(missing)} controller(s), which this host does not offer "
                f"to cgroup {self.name}")
        for key, wanted in (("cpus", resources.cpuset_cpus), ("mems", resources.cpuset_mems)):
            if wanted is None:
                continue
            offered_text = fs.read(cpuset_dir / f"cpuset.{key}{suffix}")
            offered_set = parse_cpu_list(offered_text) if offered_text else None
            if offered_set is not None and not parse_cpu_list(wanted) <= offered_set:
                raise InvalidResources(f"cpuset {key} {wanted!r} is outside the available {offered_text!r}")

    # --- removal ---------------------------------------------------------------------------
    def remove(self) -> None:
        """rmdir in every hierarchy, nested cgroups first; the processes must be gone (see kill)."""
        errors: list[CgroupError] = []
        for directory in self.directories:
            try:
                fs.remove_tree(directory)
            except CgroupError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
