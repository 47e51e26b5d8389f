"""`rm`: only stopped containers go (running ones with `-s`), the stored revision wants that many
fewer replicas so the loop does not bring them back, and `-v` takes their anonymous volumes."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine.project_ops import UpOptions
from tests.unit.engine.fakes import build

WEB = """
name: demo
services:
  web:
    image: busybox
    deploy: {replicas: 3}
"""


def test_rm_removes_stopped_replicas_and_the_loop_keeps_them_gone(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.engine.ops.up(h.project(WEB), UpOptions())
    h.runtime.exit(h.runtime.by_name("demo-web-3").id, 0)
    volumes = h.engine.layout.volumes_dir
    for name in ("demo_web_3_anon_abc", "demo_web_2_anon_def", "demo_data"):
        (volumes / name).mkdir(parents=True)
    result = h.engine.ops.remove_stopped("demo", ["web"], stop_first=False, timeout=None, volumes=True)
    assert result == {"removed": ["demo-web-3"], "volumes": ["demo_web_3_anon_abc"]}
    assert sorted(p.name for p in volumes.iterdir()) == ["demo_data", "demo_web_2_anon_def"]
    stored = h.engine.store.current_spec("demo")
    assert stored is not None and stored["services"]["web"]["deploy"]["replicas"] == 2
    h.engine.reconcile_all()
    assert h.runtime.names() == ["demo-web-1", "demo-web-2"]


def test_rm_stop_first_stops_running_replicas_without_a_restart(tmp_path: Path) -> None:
    h = build(tmp_path)
    h.engine.ops.up(h.project(WEB.replace("image: busybox", "image: busybox\n    restart: always")), UpOptions())
    result = h.engine.ops.remove_stopped("demo", [], stop_first=True, timeout=None, volumes=False)
    assert result["removed"] == ["demo-web-1", "demo-web-2", "demo-web-3"]
    h.engine.reconcile_all()
    assert h.runtime.names() == []
