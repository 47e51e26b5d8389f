"""Which cgroup layout the host has, read from /proc/self/mountinfo (pure parsing, then one read).

Modes: ``v2`` (cgroup2 at the root), ``hybrid`` (v1 controllers plus a cgroup2 mount, usually at
/sys/fs/cgroup/unified, as on this project's hosts), ``v1``. Controllers are looked up by their
mountpoint, never by name: cpu and cpuacct may be separate or co-mounted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio")


@dataclass(frozen=True)
class CgroupLayout:
    mode: str                                             # v1 | hybrid | v2
    v1: dict[str, Path] = field(default_factory=dict)     # controller → mountpoint
    unified: Path | None = None                           # the cgroup2 mountpoint, if any

    @property
    def hierarchies(self) -> list[Path]:
        """Distinct v1 mountpoints for the controllers pyorch uses (cpu,cpuacct may share one)."""
        seen: list[Path] = []
        for controller in V1_CONTROLLERS:
            path = self.v1.get(controller)
            if path is not None and path not in seen:
                seen.append(path)
        return seen


def parse_mountinfo(text: str) -> CgroupLayout:
    v1: dict[str, Path] = {}
    unified: Path | None = None
    cgroup2_at_root = False
    for line in text.splitlines():
        if " - " not in line:
            continue
        left, right = line.split(" - ", 1)
        fields = left.split()
        if len(fields) < 5:
            continue
        mountpoint = Path(fields[4].replace("\\040", " "))
        fstype, _source, options = [*right.split(), "", "", ""][:3]
        if fstype == "cgroup2":
            if unified is None or mountpoint == Path("/sys/fs/cgroup"):
                unified = mountpoint
            cgroup2_at_root = cgroup2_at_root or mountpoint == Path("/sys/fs/cgroup")
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in V1_CONTROLLERS and option not in v1:
                    v1[option] = mountpoint
    if cgroup2_at_root and not v1:
        return CgroupLayout("v2", {}, unified)
    if v1 and unified is not None:
        return CgroupLayout("hybrid", v1, unified)
    if v1:
        return CgroupLayout("v1", v1, None)
    if unified is not None:
        return CgroupLayout("v2", {}, unified)
    raise ValueError("no cgroup filesystem is mounted")


def detect() -> CgroupLayout:
    return parse_mountinfo(Path("/proc/self/mountinfo").read_text())
