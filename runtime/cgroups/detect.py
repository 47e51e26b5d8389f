"""Which cgroup layout the host has.

The mode comes from statfs magic numbers, as opencontainers/cgroups decides it: cgroup2 at
/sys/fs/cgroup is ``v2``; cgroup2 at /sys/fs/cgroup/unified beside v1 hierarchies is ``hybrid``;
otherwise ``v1``. Each v1 controller's mountpoint comes from /proc/self/mountinfo, never from its
name: cpu and cpuacct are separate mounts on some hosts and co-mounted (``cpu,cpuacct``) on others.
Parsing is pure (text in, layout out) so it is tested on fixture strings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from runtime.cgroups.errors import CgroupError

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP2_SUPER_MAGIC = 0x63677270
CGROUP_SUPER_MAGIC = 0x27E0EB

# The v1 controllers a container joins. Limits use cpu, cpuset, memory, pids; cpuacct gives CPU
# usage; freezer pauses; devices and blkio are joined so later policies apply to the container
# alone. `name=systemd` is not joined: no systemd runs here and nothing reads it (docs/cgroups.md).
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio")
# v2 controllers pyorch enables for its subtree: exactly the ones its limits use.
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "pids", "io")
_KNOWN_V1 = frozenset((*V1_CONTROLLERS, "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc"))


@dataclass(frozen=True)
class Mount:
    """One cgroup filesystem mount from mountinfo."""

    mountpoint: Path
    fstype: str                   # cgroup | cgroup2
    controllers: tuple[str, ...]  # v1 controllers on it (plus name=… for named hierarchies)


@dataclass(frozen=True)
class CgroupLayout:
    mode: str                                           # v1 | hybrid | v2
    v1: dict[str, Path] = field(default_factory=dict)   # controller → mountpoint (v1, hybrid)
    unified: Path | None = None                         # the cgroup2 mountpoint (v2, hybrid)
    v2_controllers: tuple[str, ...] = ()                # what the cgroup2 root offers

    @property
    def hierarchies(self) -> list[Path]:
        """Distinct v1 mountpoints for the controllers pyorch joins (cpu,cpuacct may share one)."""
        return list(dict.fromkeys(self.v1[c] for c in V1_CONTROLLERS if c in self.v1))

    @property
    def roots(self) -> list[Path]:
        """Every hierarchy root a container gets a directory in: the v1 ones, then cgroup2."""
        return [*self.hierarchies, *([self.unified] if self.unified is not None else [])]


def _unescape(text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 …)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def parse_mountinfo(text: str) -> list[Mount]:
    """The cgroup and cgroup2 mounts listed in /proc/<pid>/mountinfo text, in order."""
    mounts: list[Mount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        options = tail[2].split(",")
        controllers = tuple(o for o in options if o in _KNOWN_V1 or o.startswith("name="))
        mounts.append(Mount(Path(_unescape(fields[4])), tail[0], controllers))
    return mounts


def layout_from(mode: str, mounts: list[Mount], v2_controllers: str = "") -> CgroupLayout:
    """Combine a mode (from statfs) with the mounts (from mountinfo) into a layout."""
    v1: dict[str, Path] = {}
    unified: Path | None = None
    for mount in mounts:
        if mount.fstype == "cgroup2":
            # Prefer the canonical places if cgroup2 is mounted more than once.
            if unified is None or mount.mountpoint in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
                unified = mount.mountpoint
        elif mode != "v2":
            for controller in mount.controllers:
                v1.setdefault(controller, mount.mountpoint)
    if mode == "v2":
        if unified is None:
            raise CgroupError("cgroup2 is at /sys/fs/cgroup but not in mountinfo")
        return CgroupLayout("v2", {}, unified, tuple(v2_controllers.split()))
    if not any(c in v1 for c in V1_CONTROLLERS):
        raise CgroupError("no cgroup v1 controller is mounted and cgroup2 is not at /sys/fs/cgroup")
    if mode == "hybrid" and unified is not None:
        return CgroupLayout("hybrid", v1, unified, tuple(v2_controllers.split()))
    return CgroupLayout("v1", v1, None, ())


def fs_magic(path: Path) -> int | None:
    """statfs(path).f_type, or None if the path does not exist (Python has no os.statfs)."""
    buf = ctypes.create_string_buffer(256)  # larger than struct statfs on every ABI
    if _libc.statfs(os.fsencode(path), buf) != 0:
        return None
    # f_type is the first member, a word-sized signed integer.
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.statfs.argtypes = (ctypes.c_char_p, ctypes.c_void_p)


def detect_mode(root: Path = CGROUP_ROOT) -> str:
    if fs_magic(root) == CGROUP2_SUPER_MAGIC:
        return "v2"
    if fs_magic(root / "unified") == CGROUP2_SUPER_MAGIC:
        return "hybrid"
    return "v1"


def detect() -> CgroupLayout:
    """This host's layout, from statfs and /proc/self/mountinfo."""
    mode = detect_mode()
    mounts = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    controllers = ""
    unified = next((m.mountpoint for m in mounts if m.fstype == "cgroup2"), None)
    if mode != "v1" and unified is not None:
        controllers = _read_or_empty(CGROUP_ROOT / "cgroup.controllers" if mode == "v2"
                                     else CGROUP_ROOT / "unified" / "cgroup.controllers")
    return layout_from(mode, mounts, controllers)


# Files that identify a v1 controller in a directory tree (fixture trees carry no mountinfo).
_V1_MARKERS = {
    "cpu": "cpu.shares", "cpuacct": "cpuacct.usage", "cpuset": "cpuset.cpus",
    "memory": "memory.limit_in_bytes", "pids": "pids.max", "freezer": "freezer.state",
    "devices": "devices.list", "blkio": "blkio.weight",
}


def layout_of_tree(root: Path) -> CgroupLayout:
    """The layout of a cgroup tree given as a directory: a real cgroup2 mount, or a fixture tree.

    ``root`` holding ``cgroup.controllers`` is a v2 root. Otherwise each subdirectory is one
    hierarchy, recognised by its interface files (a subdirectory with ``cgroup.controllers`` is
    the unified one, which makes the tree hybrid).
    """
    if fs_magic(root) == CGROUP2_SUPER_MAGIC or (root / "cgroup.controllers").exists():
        return CgroupLayout("v2", {}, root, tuple(_read_or_empty(root / "cgroup.controllers").split()))
    v1: dict[str, Path] = {}
    unified: Path | None = None
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if (sub / "cgroup.controllers").exists():
            unified = sub
            continue
        for controller, marker in _V1_MARKERS.items():
            if (sub / marker).exists():
                v1.setdefault(controller, sub)
    if not v1:
        raise CgroupError(f"{root} holds neither a cgroup2 root nor v1 hierarchies")
    if unified is not None:
        return CgroupLayout("hybrid", v1, unified, tuple(_read_or_empty(unified / "cgroup.controllers").split()))
    return CgroupLayout("v1", v1, None, ())


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
