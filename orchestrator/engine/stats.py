"""Resource usage of a project's running containers, read from their cgroups (for `dashboard`).

Counters are cumulative (CPU nanoseconds); a client computes rates from two samples, as
`docker stats` does, so this route stays a cheap read of a few cgroup files.
"""

from __future__ import annotations

import time
from typing import Any

from runtime.cgroups import CgroupError
from runtime.container.runtime import ContainerRuntime
from runtime.errors import RuntimeFailure


def project_stats(runtime: ContainerRuntime, project: str, label: str) -> list[dict[str, Any]]:
    """One row per running container of ``project`` (found by its project label)."""
    rows = []
    for info in runtime.containers():
        if info.labels.get(label) != project or info.status not in ("running", "paused"):
            continue
        try:
            cgroup = runtime.cgroup(info.id)
            stats = cgroup.stats() if cgroup is not None else None
        except (RuntimeFailure, CgroupError, OSError):
            stats = None
        if stats is None:
            continue
        rows.append({
            "id": info.id, "name": info.name, "sampled_at": time.time(),
            "cpu_usage_ns": stats.cpu_usage_ns, "memory_bytes": stats.memory_bytes,
            "memory_limit": stats.memory_limit, "pids": stats.pids, "pids_limit": stats.pids_limit,
        })
    return rows
