"""The resync heals what a lost event left stale, on the real kernel.

The engine is built as the daemon builds it, over the real runtime, network manager and shim,
with a short resync period; every exit event the shim sends is dropped on its way to the engine
(the subscription works, the engine hears nothing). A replica killed from outside must still be
seen exited, recorded and restarted by its restart policy — by the resync, within its period
(polled with a deadline many periods long: the machine is shared, no timing is claimed).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from orchestrator.engine.engine import Engine
from orchestrator.engine.project_ops import UpOptions
from orchestrator.engine.store import Store
from orchestrator.spec import LoadOptions, load_project
from runtime.container.runtime import ContainerRuntime
from runtime.layout import HostLayout
from runtime.network import NetworkManager

pytestmark = pytest.mark.root
RESYNC_S = 1.0
COMPOSE = """
name: resync
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    restart: always
"""


def test_a_dropped_exit_event_is_healed_by_the_resync(rt: ContainerRuntime, layout: HostLayout,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dropped: list[dict[str, Any]] = []
    subscribe = rt.exit_events

    def lossy() -> Iterator[dict[str, Any]]:
        for event in subscribe():
            if "event" in event:
                dropped.append(event)  # lost on its way: the engine never hears of this exit
                continue
            yield event

    monkeypatch.setattr(rt, "exit_events", lossy)
    network = NetworkManager(layout)
    store = Store(layout.state_root / "engine.db")
    engine = Engine(layout, store, rt, network, BackgroundScheduler(job_defaults={"coalesce": True}),
                    dns=lambda: None, resync_s=RESYNC_S)
    engine.start()
    try:
        (tmp_path / "compose.yaml").write_text(COMPOSE)
        project = load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path, environ={}))
        assert engine.ops.up(project.model_dump(mode="json"), UpOptions())["errors"] == []
        [row] = engine.queries.ps("resync")
        assert row["status"] == "running" and row["restart_count"] == 0
        os.kill(row["pid"], signal.SIGKILL)

        deadline = time.monotonic() + 60 * RESYNC_S
        while time.monotonic() < deadline:
            [now] = engine.queries.ps("resync")  # what the engine keeps: only a resync corrects it
            if now["restart_count"] == 1 and now["status"] == "running":
                break
            time.sleep(0.05)
        assert (now["restart_count"], now["status"]) == (1, "running"), now
        assert now["id"] == row["id"] and now["pid"] != row["pid"]
        assert [e["id"] for e in dropped] == [row["id"]]  # the shim did report it; it was dropped
        dies = [e for e in store.events_since(0, "resync") if e.kind == "container-die"]
        assert [e.subject for e in dies] == ["resync-web-1"]  # the exit seen by the resync is recorded
    finally:
        engine.ops.down("resync", timeout=0)
        engine.shutdown()
        network.close()
        store.close()
