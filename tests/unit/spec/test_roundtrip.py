"""load → `config` (YAML/JSON) → load gives the same services and prints the same text; the engine's
JSON dump round-trips exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.spec import LoadOptions, Project, load_project
from orchestrator.spec.confighash import config_hash
from orchestrator.spec.render import as_json_safe, hashes, images, profile_names, render_config
from tests.unit.spec.conftest import Load, Write

FULL = """
name: full
x-top: {any: thing}
services:
  web:
    image: "nginx:${TAG:-1.25}"
    build: {context: ./web, args: [A=1, B], labels: {l: v}, shm_size: 64m, extra_hosts: ["h:1.2.3.4"]}
    command: nginx -g 'daemon off;'
    entrypoint: [/docker-entrypoint.sh]
    environment: {PRICE: "$$5", BARE: null, ON: "no"}
    env_file: [web.env]
    ports: ["8080:80", "127.0.0.1:8443:443/tcp", "9000-9001:9000-9001", {target: 53, published: "5353", protocol: udp}]
    expose: ["3000"]
    networks:
      front: {aliases: [www], ipv4_address: 172.30.0.10, priority: 10}
      back:
    volumes: ["./html:/usr/share/nginx/html:ro", "cache:/cache", {type: tmpfs, target: /tmp, tmpfs: {size: 1m}}]
    deploy:
      replicas: 2
      resources: {limits: {cpus: "0.5", memory: 128M, pids: 100}, reservations: {memory: 64M}}
      restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 2m}
      update_config: {parallelism: 1, delay: 10s, failure_action: rollback, monitor: 30s, order: start-first}
      rollback_config: {parallelism: 2}
      labels: [tier=front]
    restart: unless-stopped
    healthcheck: {test: "curl -f http://localhost/ || exit 1", interval: 10s, retries: 5}
    depends_on: {db: {condition: service_healthy, restart: true}}
    labels: [com.example=1]
    user: "101:101"
    working_dir: /app
    hostname: web
    mem_limit: 128m
    memswap_limit: -1
    cpus: 0.5
    pids_limit: 100
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    sysctls: [net.core.somaxconn=1024]
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    init: true
    stop_signal: SIGQUIT
    stop_grace_period: 1m30s
    extra_hosts: {db.local: 10.0.0.5}
    dns: 8.8.8.8
    logging: {driver: json-file, options: {max-size: 10m}}
    secrets: [token]
    configs: [{source: conf, target: /etc/conf, mode: 0440}]
    security_opt: [no-new-privileges:true]
    x-web: {custom: true}
  db:
    image: postgres:16
    healthcheck: {test: [CMD, pg_isready], start_period: 30s}
    volumes: [data:/var/lib/postgresql/data]
    networks: [back]
    profiles: [db, all]
  job:
    image: busybox
    network_mode: none
    profiles: [jobs]
networks:
  front: {ipam: {config: [{subnet: 172.30.0.0/24}]}}
  back: {internal: true}
volumes:
  data: {labels: {keep: "yes"}}
  cache:
secrets:
  token: {file: ./token.txt}
configs:
  conf: {content: "x=1"}
"""


@pytest.fixture
def full(write: Write, load: Load) -> Project:
    write("compose.yaml", FULL)
    write("web.env", "FROM_FILE=1\nPRICE=overridden")
    return load(profiles=["db"], environ={"BARE": "bare-value", "HOME": "/root"})


def test_full_example_loads(full: Project) -> None:
    web = full.services["web"]
    assert sorted(full.services) == ["db", "web"]
    assert web.image == "nginx:1.25"
    assert web.command == ["nginx", "-g", "daemon off;"]
    assert web.environment == {"FROM_FILE": "1", "PRICE": "$5", "BARE": "bare-value", "ON": "no"}
    assert web.replicas == 2
    assert web.deploy is not None and web.deploy.restart_policy is not None
    assert web.deploy.restart_policy.window == 120.0
    assert web.memswap_limit == -1
    assert [p.target for p in web.ports or []] == [80, 443, 9000, 9001, 53]
    assert web.ulimits is not None and web.ulimits["nproc"].hard == 512
    assert web.configs is not None and web.configs[0].mode == 0o440


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_canonical_output_loads_back_equal(full: Project, tmp_path: Path, fmt: str) -> None:
    text = render_config(full, fmt)  # JSON is YAML too
    out = tmp_path / "again" / f"compose.{fmt}"
    out.parent.mkdir()
    out.write_text(text)
    again = load_project(LoadOptions(files=[out], working_dir=tmp_path, project_directory=tmp_path,
                                     profiles=["db"], environ={"BARE": "bare-value", "HOME": "/root"}))
    assert render_config(again, fmt) == render_config(full, fmt)
    assert hashes(again) == hashes(full)


def test_json_safe_dump_round_trips(full: Project) -> None:
    again = Project.model_validate(as_json_safe(full))
    assert again == full
    assert again.model_dump(mode="json") == full.model_dump(mode="json")
    assert config_hash(again, "web") == config_hash(full, "web")


def test_config_hash_ignores_what_needs_no_new_container(write: Write, load: Load) -> None:
    base = "services:\n  web:\n    image: x\n    command: [a]\n"
    write("compose.yaml", base)
    reference = config_hash(load(), "web")
    for extra in ["    scale: 3\n", "    deploy: {replicas: 5}\n", "    profiles: [p]\n", "    pull_policy: always\n",
                  "    build: .\n", "    depends_on: [db]\n  db: {image: y}\n"]:
        write("compose.yaml", base + extra)
        assert config_hash(load(profiles=["p"]), "web") == reference, extra
    for change in ["    environment: {A: '1'}\n", "    deploy: {replicas: 2, labels: {a: b}}\n", "    user: root\n"]:
        write("compose.yaml", base + change)
        assert config_hash(load(), "web") != reference, change


def test_listings(full: Project) -> None:
    assert profile_names(full) == ["all", "db", "jobs"]  # every declared profile, enabled or not
    assert images(full) == ["postgres:16", "nginx:1.25"]  # by service name (db, web)
    assert "PRICE: $$5" in render_config(full)
    assert '"ON": "no"' in render_config(full)  # quoted, as Compose quotes, for YAML 1.1 readers
