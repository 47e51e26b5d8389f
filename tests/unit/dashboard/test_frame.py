"""Dashboard frames from a snapshot: pure functions, rendered to text."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from orchestrator.dashboard.frame import render_frame, size
from orchestrator.dashboard.snapshot import build_snapshot, cpu_percentages


def _ps(cid: str, service: str, number: int, status: str = "running", health: str | None = None,
        restarts: int = 0) -> dict[str, Any]:
    return {"id": cid, "name": f"shop-{service}-{number}", "service": service, "number": number, "status": status,
            "restart_count": restarts, "health": {"status": health} if health else None,
            "ports": ["127.0.0.1:8080->80/tcp"] if service == "web" else []}


def _stat(cid: str, cpu_ns: int, at: float, mem: int = 4 << 20, pids: int = 2) -> dict[str, Any]:
    return {"id": cid, "cpu_usage_ns": cpu_ns, "read_at": at, "memory_bytes": mem, "memory_limit": None,
            "pids": pids, "pids_limit": None}


def _snapshot() -> Any:
    ps = [_ps("a", "web", 1, health="healthy"), _ps("b", "web", 2, health="starting", restarts=2),
          _ps("c", "db", 1, status="exited")]
    before = [_stat("a", 0, 10.0), _stat("b", 0, 10.0)]
    after = [_stat("a", 500_000_000, 11.0), _stat("b", 250_000_000, 11.0, mem=6 << 20, pids=3)]
    rollouts = [{"service": "web", "kind": "update", "status": "updating", "updated": 1, "total": 3,
                 "failed": 0, "message": ""}]
    return build_snapshot("shop", {"web": 3, "db": 1, "cache": 1}, ps, before, after, rollouts, 0.0)


def test_cpu_is_a_rate_between_two_samples() -> None:
    cpu = cpu_percentages([_stat("a", 0, 1.0)], [_stat("a", 2_000_000_000, 3.0), _stat("new", 5, 3.0)])
    assert cpu == {"a": 100.0}   # one CPU-second per second; "new" has no earlier sample


def test_snapshot_aggregates_per_service() -> None:
    snap = _snapshot()
    services = {s.name: s for s in snap.services}
    web, db, cache = services["web"], services["db"], services["cache"]
    assert (web.desired, web.running, web.containers, web.restarts) == (3, 2, 2, 2)
    assert web.health == {"healthy": 1, "starting": 1}
    assert web.cpu_percent is not None and round(web.cpu_percent) == 75
    assert (web.memory_bytes, web.pids) == (10 << 20, 5)
    assert web.ports == ("127.0.0.1:8080->80/tcp",)
    assert web.rollout is not None and (web.rollout.updated, web.rollout.total) == (1, 3)
    assert (db.running, db.cpu_percent, db.rollout) == (0, None, None)
    assert (cache.desired, cache.containers) == (1, 0)   # desired but nothing there yet


def test_frame_text() -> None:
    console = Console(width=160, record=True, color_system=None)
    console.print(render_frame(_snapshot()))
    text = console.export_text()
    web = next(line for line in text.splitlines() if " web " in f" {line} " and "2/3" in line)
    assert "1 healthy 1 starting" in web and "update updating 1/3" in web and "75.0" in web
    assert "127.0.0.1:8080->80/tcp" in web and "10.0MiB" in web
    assert any("cache" in line and "0/1" in line for line in text.splitlines())
    for name in ("shop-web-1", "shop-web-2", "shop-db-1"):
        assert name in text
    assert "project shop" in text


def test_sizes() -> None:
    assert [size(None), size(512), size(1536), size(5 << 30)] == ["-", "512B", "1.5KiB", "5.0GiB"]
