"""Compose build sections → build requests: network, extra hosts, secrets from files, the caller's
environment and inline content (pure: no engine, no build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.compose_build import build_request
from orchestrator.errors import EngineError
from orchestrator.spec import LoadOptions, Project, load_project

COMPOSE = """\
name: shop
services:
  web:
    build:
      context: ./web
      network: host
      extra_hosts: ["mirror.local:10.0.0.5", "up=host-gateway"]
      entitlements: [network.host]
      secrets:
        - token
        - source: cert
          target: tls
        - inline
secrets:
  token:
    environment: SHOP_TOKEN
  cert:
    file: ./cert.pem
  inline:
    content: inline-value
"""


def _project(tmp_path: Path, text: str = COMPOSE) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    (tmp_path / "cert.pem").write_text("PEM")
    return load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path,
                                    project_directory=tmp_path, environ={}))


def test_build_request_carries_network_hosts_entitlements_and_secrets(tmp_path: Path) -> None:
    project = _project(tmp_path)
    request = build_request(project, project.services["web"], environ={"SHOP_TOKEN": "t0k"})
    assert request.context == tmp_path / "web" and request.network == "host"
    assert request.extra_hosts == {"mirror.local": "10.0.0.5", "up": "host-gateway"}
    assert request.allow == frozenset({"network.host"}) and request.progress_prefix == "web"
    assert request.secrets == {"token": b"t0k", "tls": b"PEM", "inline": b"inline-value"}
    assert "t0k" not in repr(request)


def test_missing_secret_sources_are_refused(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with pytest.raises(EngineError, match="SHOP_TOKEN is not set"):
        build_request(project, project.services["web"], environ={})
    (tmp_path / "cert.pem").unlink()
    with pytest.raises(EngineError, match=r"cannot read .*cert\.pem"):
        build_request(project, project.services["web"], environ={"SHOP_TOKEN": "x"})
