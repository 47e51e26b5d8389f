"""Secrets and configs as a Compose user writes them: file, .env variable and inline content, with
the long syntax's owner and mode; mounted read-only, never in the container's writable directory."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, write

pytestmark = pytest.mark.root
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


def test_secrets_and_configs_reach_the_container_as_asked(layout: HostLayout, tmp_path: Path) -> None:
    password, api_key = "pw-" + secrets.token_hex(8), "key-" + secrets.token_hex(8)
    (tmp_path / "db_password.txt").write_text(password)
    (tmp_path / ".env").write_text(f"API_KEY={api_key}\n")
    file = write(tmp_path, f"""
name: secretsdemo
services:
  app:
    image: pyorch.local/busybox:latest
    user: "33:33"
    read_only: true
    command: ["sh", "-c", "{LOOP}"]
    secrets:
      - db_password
      - source: api_key
        uid: "33"
        gid: "33"
        mode: 0400
    configs:
      - source: app_conf
        target: /etc/app/app.conf
secrets:
  db_password:
    file: ./db_password.txt
  api_key:
    environment: API_KEY
configs:
  app_conf:
    content: greeting=hello
""")
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        script = ("for f in /run/secrets/db_password /run/secrets/api_key /etc/app/app.conf; do "
                  "echo \"$f $(stat -c '%a %u:%g' $f) $(cat $f)\"; done; "
                  "{ echo x > /run/secrets/api_key; } 2>/dev/null || echo read-only")
        shown = pyorch(layout, "-f", file, "exec", "app", "sh", "-c", script).stdout.splitlines()
        assert shown == [f"/run/secrets/db_password 444 0:0 {password}", f"/run/secrets/api_key 400 33:33 {api_key}",
                         "/etc/app/app.conf 444 0:0 greeting=hello", "read-only"]
        assert api_key not in pyorch(layout, "-f", file, "config").stdout  # the value is not printed
        cid = json.loads(pyorch(layout, "-f", file, "ps", "--format", "json").stdout)[0]["id"]
        upper = layout.containers_dir / cid / "upper"
        leaked = [str(p) for p in upper.rglob("*") if p.is_file()
                  and any(s.encode() in p.read_bytes() for s in (password, api_key))]
        assert leaked == []
    finally:
        pyorch(layout, "-f", file, "down", check=False)


def test_a_missing_secret_source_is_refused_before_anything_starts(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, f"""
name: secretsmissing
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{LOOP}"]
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{LOOP}"]
    secrets: [token]
secrets:
  token:
    environment: NOT_SET_ANYWHERE
""")
    pyorch(layout, "image", "bootstrap")
    failed = pyorch(layout, "-f", file, "up", "-d", check=False)
    assert failed.returncode != 0
    assert 'environment variable "NOT_SET_ANYWHERE" required by secret "token" is not set' in failed.stderr
    assert json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout) == []
    pyorch(layout, "-f", file, "down", check=False)
