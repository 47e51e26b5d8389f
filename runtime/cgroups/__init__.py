"""cgroups v1, v2 and hybrid behind one interface (see docs/cgroups.md).

    mgr = open_cgroups(layout)
    cg = mgr.create(name, Resources(memory_limit=..., nano_cpus=..., pids_limit=...))
    child: write own pid into each of cg.procs_files before unsharing
    cg.kill(); cg.remove()
"""

from runtime.cgroups.cgroup import Cgroup
from runtime.cgroups.detect import CgroupLayout, detect, layout_of_tree, parse_mountinfo
from runtime.cgroups.errors import CgroupBusy, CgroupError, ControllerUnavailable, InvalidResources
from runtime.cgroups.manager import CgroupManager, open_cgroups
from runtime.cgroups.resources import CgroupStats, Resources, shares_to_weight

__all__ = [
    "Cgroup",
    "CgroupBusy",
    "CgroupError",
    "CgroupLayout",
    "CgroupManager",
    "CgroupStats",
    "ControllerUnavailable",
    "InvalidResources",
    "Resources",
    "detect",
    "layout_of_tree",
    "open_cgroups",
    "parse_mountinfo",
    "shares_to_weight",
]
