"""What the dashboard shows, computed from the engine's answers (pure, so frames are testable).

One sample is: `ps` rows, two `stats` samples (CPU % is a rate), the rollout records and the
desired replica counts from the Compose file. Everything here is arithmetic on those.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ContainerView:
    name: str
    service: str
    status: str
    health: str | None
    restarts: int
    cpu_percent: float | None
    memory_bytes: int | None
    memory_limit: int | None
    pids: int | None
    id: str = ""
    number: int = 0
    pid: int | None = None          # its first process on the host (changes on every restart)
    started_at: float | None = None
    exit_code: int | None = None
    image: str = ""


@dataclass(frozen=True)
class RolloutView:
    kind: str
    status: str
    updated: int
    total: int
    failed: int
    message: str


@dataclass(frozen=True)
class ServiceView:
    name: str
    desired: int | None
    running: int
    containers: int
    health: dict[str, int]
    restarts: int
    cpu_percent: float | None
    memory_bytes: int
    pids: int
    ports: tuple[str, ...]
    rollout: RolloutView | None


@dataclass(frozen=True)
class Snapshot:
    project: str
    taken_at: float
    services: list[ServiceView] = field(default_factory=list)
    containers: list[ContainerView] = field(default_factory=list)


def cpu_percentages(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, float]:
    """CPU use between two samples in percent of one CPU (the unit `docker stats` uses)."""
    earlier = {r["id"]: r for r in before}
    result: dict[str, float] = {}
    for row in after:
        old = earlier.get(row["id"])
        if old is None:
            continue
        elapsed = float(row["read_at"]) - float(old["read_at"])
        if elapsed > 0:
            result[row["id"]] = max(0.0, (row["cpu_usage_ns"] - old["cpu_usage_ns"]) / 1e9 / elapsed * 100)
    return result


def build_snapshot(project: str, desired: dict[str, int], ps_rows: list[dict[str, Any]],
                   stats_before: list[dict[str, Any]], stats_after: list[dict[str, Any]],
                   rollouts: list[dict[str, Any]], taken_at: float) -> Snapshot:
    cpu = cpu_percentages(stats_before, stats_after)
    stats = {r["id"]: r for r in stats_after}
    containers = []
    for row in sorted(ps_rows, key=lambda r: (r["service"], r.get("number", 0), r["name"])):
        st = stats.get(row["id"])
        health = (row.get("health") or {}).get("status")
        containers.append(ContainerView(
            name=row["name"], service=row["service"], status=row["status"], health=health,
            restarts=int(row.get("restart_count") or 0), cpu_percent=cpu.get(row["id"]),
            memory_bytes=st["memory_bytes"] if st else None, memory_limit=st["memory_limit"] if st else None,
            pids=st["pids"] if st else None, id=row["id"], number=int(row.get("number") or 0),
            pid=row.get("pid") if row["status"] in ("running", "paused") else None,
            started_at=row.get("started_at"), exit_code=row.get("exit_code"), image=row.get("image") or "",
        ))
    records = {r["service"]: r for r in rollouts}
    names = sorted(set(desired) | {c.service for c in containers})
    services = []
    for name in names:
        mine = [c for c in containers if c.service == name]
        rows = [r for r in ps_rows if r["service"] == name]
        cpus = [c.cpu_percent for c in mine if c.cpu_percent is not None]
        record = records.get(name)
        services.append(ServiceView(
            name=name, desired=desired.get(name), running=sum(c.status == "running" for c in mine),
            containers=len(mine), health=dict(Counter(c.health for c in mine if c.health)),
            restarts=sum(c.restarts for c in mine), cpu_percent=sum(cpus) if cpus else None,
            memory_bytes=sum(c.memory_bytes or 0 for c in mine), pids=sum(c.pids or 0 for c in mine),
            ports=tuple(sorted({p for r in rows for p in r.get("ports") or []})),
            rollout=None if record is None else RolloutView(
                kind=record["kind"], status=record["status"], updated=int(record["updated"]),
                total=int(record["total"]), failed=int(record["failed"]), message=record.get("message") or ""),
        ))
    return Snapshot(project=project, taken_at=taken_at, services=services, containers=containers)
