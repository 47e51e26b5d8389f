"""cgroups v1, v2 and hybrid behind one interface (see docs/cgroups.md)."""

from runtime.cgroups.detect import CgroupLayout, detect, parse_mountinfo
from runtime.cgroups.errors import CgroupError
from runtime.cgroups.manager import Cgroup, CgroupManager, open_cgroups
from runtime.cgroups.resources import CgroupStats, Resources, shares_to_weight

__all__ = [
    "Cgroup",
    "CgroupError",
    "CgroupLayout",
    "CgroupManager",
    "CgroupStats",
    "Resources",
    "detect",
    "open_cgroups",
    "parse_mountinfo",
    "shares_to_weight",
]
