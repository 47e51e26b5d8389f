"""Compose secrets and configs → file mounts: Compose's targets and defaults, values from .env."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.file_objects import check_file_objects, file_mounts
from orchestrator.errors import EngineError
from orchestrator.spec import LoadOptions, Project, load_project
from orchestrator.spec.render import render_config
from runtime.container.runconfig import FileMount


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path,
                                    environ=environ or {}))


COMPOSE = """
services:
  app:
    image: busybox
    secrets:
      - db_password
      - source: api_key
        target: keys/api
        uid: "33"
        gid: "34"
        mode: 0400
      - source: tls_key
        target: /etc/ssl/private/app.key
    configs:
      - nginx_conf
      - source: app_conf
        target: etc/app.conf
        mode: 0440
secrets:
  db_password:
    file: ./secrets/db_password.txt
  api_key:
    environment: API_KEY
  tls_key:
    content: not-really-a-key
configs:
  nginx_conf:
    content: "server {}"
  app_conf:
    file: app.conf
"""


def test_targets_sources_and_defaults_as_compose(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_KEY=from-dotenv\nUNUSED=x\n")
    project = load(tmp_path, COMPOSE)
    assert project.referenced_environment == {"API_KEY": "from-dotenv"}
    assert file_mounts(project, project.services["app"]) == [
        FileMount("/run/secrets/db_password", source=str(tmp_path / "secrets/db_password.txt"), mode=0o444),
        FileMount("/run/secrets/keys/api", content="from-dotenv", uid=33, gid=34, mode=0o400),
        FileMount("/etc/ssl/private/app.key", content="not-really-a-key", mode=0o444),
        FileMount("/nginx_conf", content="server {}", mode=0o444),
        FileMount("/etc/app.conf", source=str(tmp_path / "app.conf"), mode=0o440),
    ]
    # the value is kept for the engine, never shown by `config`
    assert "from-dotenv" not in render_config(project, "json")


def test_the_process_environment_wins_and_a_missing_variable_is_refused_at_up(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_KEY=from-dotenv\n")
    project = load(tmp_path, COMPOSE, environ={"API_KEY": "from-shell"})
    assert project.referenced_environment == {"API_KEY": "from-shell"}
    (tmp_path / ".env").unlink()
    project = load(tmp_path, COMPOSE)  # `config` still renders the file, as Compose does
    with pytest.raises(EngineError, match='environment variable "API_KEY" required by secret "api_key" is not set'):
        file_mounts(project, project.services["app"])


def test_missing_files_external_objects_and_bad_owners_are_refused(tmp_path: Path) -> None:
    project = load(tmp_path, COMPOSE, environ={"API_KEY": "k"})
    with pytest.raises(EngineError, match=r"db_password\.txt, does not exist"):
        check_file_objects(project)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/db_password.txt").write_text("pw")
    (tmp_path / "app.conf").write_text("x")
    check_file_objects(project)
    external = load(tmp_path, """
services:
  app: {image: busybox, secrets: [vault]}
secrets:
  vault: {external: true}
""")
    with pytest.raises(EngineError, match="unsupported external secret vault"):
        check_file_objects(external)
    named = load(tmp_path, """
services:
  app: {image: busybox, secrets: [{source: pw, uid: www-data}]}
secrets:
  pw: {content: x}
""")
    with pytest.raises(EngineError, match="uid must be a number, not 'www-data'"):
        check_file_objects(named)
