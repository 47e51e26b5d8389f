"""Compose service → runtime RunConfig, for the keys the runtime applies."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine.labels import LABEL_HASH, LABEL_NUMBER, LABEL_PROJECT
from orchestrator.engine.translate import health_check_for, run_config
from orchestrator.spec import LoadOptions, Project, load_project
from orchestrator.spec.confighash import config_hash


def load(tmp_path: Path, text: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path, environ={}))


def test_keys_become_runtime_settings(tmp_path: Path) -> None:
    project = load(tmp_path, """
name: demo
services:
  web:
    image: busybox
    entrypoint: ["/bin/sh", "-c"]
    command: "echo hi"
    environment: {A: "1", B: null}
    working_dir: /srv
    user: "1000:1000"
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 50
    stop_signal: SIGINT
    stop_grace_period: 3s
    init: false
    labels: {team: blue}
""")
    config = run_config(project, project.services["web"], "demo-web-2", 2, revision=7)
    assert config.entrypoint == ["/bin/sh", "-c"]
    assert config.command == ["echo", "hi"]
    assert config.environment == {"A": "1"}  # a null value means "unset"
    assert (config.working_dir, config.user) == ("/srv", "1000:1000")
    assert config.resources.memory_limit == 64 * 1024 * 1024
    assert config.resources.nano_cpus == 500_000_000
    assert config.resources.pids_limit == 50
    assert (config.stop_signal, config.stop_grace_period, config.init) == ("SIGINT", 3.0, False)
    assert config.labels["team"] == "blue"
    assert config.labels[LABEL_PROJECT] == "demo"
    assert config.labels[LABEL_NUMBER] == "2"
    assert config.labels[LABEL_HASH] == config_hash(project, "web")


def test_deploy_limits_apply_when_service_keys_are_absent(tmp_path: Path) -> None:
    project = load(tmp_path, """
services:
  api:
    image: busybox
    deploy:
      resources:
        limits: {cpus: "1.5", memory: 1g, pids: 10}
""")
    resources = run_config(project, project.services["api"], "x", 1, 1).resources
    assert (resources.nano_cpus, resources.memory_limit, resources.pids_limit) == (1_500_000_000, 1 << 30, 10)


def test_healthcheck_from_service_or_image(tmp_path: Path) -> None:
    project = load(tmp_path, """
services:
  a:
    image: busybox
    healthcheck: {test: "wget -q -O- localhost", interval: 2s, retries: 5}
  b:
    image: busybox
  c:
    image: busybox
    healthcheck: {disable: true}
""")
    image_hc = {"Test": ["CMD", "true"], "Interval": 3_000_000_000, "Retries": 2}
    a = health_check_for(project.services["a"], image_hc)
    assert a is not None and a.args == ("/bin/sh", "-c", "wget -q -O- localhost")
    assert (a.interval, a.retries, a.timeout) == (2.0, 5, 30.0)
    b = health_check_for(project.services["b"], image_hc)
    assert b is not None and (b.args, b.interval, b.retries) == (("true",), 3.0, 2)
    assert health_check_for(project.services["c"], image_hc) is None
    assert health_check_for(project.services["b"], None) is None


def test_volumes_and_tmpfs_become_mounts(tmp_path: Path) -> None:
    project = load(tmp_path, """
name: vols
services:
  db:
    image: busybox
    volumes:
      - data:/var/lib/db
      - ./conf:/etc/db:ro
      - /cache
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 1m}
    tmpfs: ["/run:size=64k"]
volumes:
  data: {}
""")
    mounts = run_config(project, project.services["db"], "vols-db-1", 1, 1).mounts
    kinds = [(m.type, m.target) for m in mounts]
    assert kinds == [("volume", "/var/lib/db"), ("bind", "/etc/db"), ("volume", "/cache"),
                     ("tmpfs", "/scratch"), ("tmpfs", "/run")]
    assert mounts[0].source == "vols_data"
    assert mounts[1].source == str(tmp_path / "conf") and mounts[1].read_only and mounts[1].create_host_path
    assert mounts[2].source.startswith("vols_db_1_anon_")
    assert (mounts[3].tmpfs_size, mounts[4].tmpfs_size) == (1 << 20, 64 << 10)
