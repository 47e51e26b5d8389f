"""compose-examples/webapp as its README runs it: images built FROM Debian with apt-get, the
stack up behind nginx, requests that write to PostgreSQL and Redis, the secret where and how it is
asked, psql in the db, the debug profile, data kept across down/up and gone with down -v."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from runtime.layout import HostLayout
from tests.compose_diff import reference
from tests.helpers import REPO, free_port, pyorch

pytestmark = pytest.mark.root
EXAMPLE = str(REPO / "compose-examples/webapp/compose.yaml")


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        body: dict[str, object] = json.loads(response.read())
        return body


def _wait_ready(url: str, deadline_s: float = 120) -> dict[str, object]:
    end = time.monotonic() + deadline_s
    while True:
        try:
            return _get(url)
        except (OSError, ValueError) as exc:
            if time.monotonic() > end:
                raise AssertionError(f"{url} never answered: {exc}") from exc
            time.sleep(0.5)


def test_the_webapp_example_runs_as_its_readme_says(layout: HostLayout, debian_image: str) -> None:
    port = free_port()
    env = {"WEB_PORT": str(port)}
    run = ("-f", EXAMPLE, "-p", "webapptest")
    url = f"http://127.0.0.1:{port}/"
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, *run, "build", timeout=900, **env)
        pyorch(layout, *run, "up", "-d", timeout=300, **env)
        first = _wait_ready(url)
        replicas = {first["replica"]}
        last = first
        for _ in range(30):
            answer = _get(url)
            assert answer["rows"] == int(str(last["rows"])) + 1 and answer["hits"] == int(str(last["hits"])) + 1
            replicas.add(answer["replica"])
            last = answer
        assert len(replicas) > 1  # nginx spreads the visits over the app's replicas
        apps = [r for r in json.loads(pyorch(layout, *run, "ps", "--format", "json", **env).stdout)
                if r["service"] == "app"]
        assert len(apps) == 3 and all(r["health"]["status"] == "healthy" for r in apps), apps

        count = pyorch(layout, *run, "exec", "db", "psql", "-h", "/tmp", "-U", "shop", "-d", "shop", "-tAc",
                       "select count(*) from visits", **env).stdout.strip()
        assert count == str(last["rows"])
        shown = pyorch(layout, *run, "exec", "db", "stat", "-c", "%a %U", "/run/secrets/db_password",
                       "/var/lib/postgresql/data", **env).stdout.split()
        assert shown == ["400", "postgres", "700", "postgres"]  # the secret as asked; the volume as the image had it
        db = next(r for r in json.loads(pyorch(layout, *run, "ps", "--format", "json", **env).stdout)
                  if r["service"] == "db")
        password = (REPO / "compose-examples/webapp/secrets/db_password.txt").read_bytes().strip()
        upper = layout.containers_dir / str(db["id"]) / "upper"
        assert [p for p in upper.rglob("*") if p.is_file() and password in p.read_bytes()] == []

        toolbox = pyorch(layout, *run, "--profile", "debug", "run", "--rm", "toolbox", timeout=600, **env)
        assert str(last["rows"]) in toolbox.stdout.split()

        pyorch(layout, *run, "down", **env)
        pyorch(layout, *run, "up", "-d", timeout=300, **env)
        again = _wait_ready(url)
        assert again["rows"] == int(str(last["rows"])) + 1  # the rows stayed in the volume
        pyorch(layout, *run, "down", "-v", **env)
        assert "webapptest_dbdata" not in pyorch(layout, "volume", "ls", "-q").stdout.split()
    finally:
        pyorch(layout, *run, "down", "-v", check=False, **env)


def test_the_example_is_plain_compose() -> None:
    """Docker Compose v2.40.3 renders the same canonical model from it (interpolation from .env,
    anchors and merge keys, secrets, configs, profiles, deploy)."""
    example = REPO / "compose-examples/webapp"
    env = {"PATH": "/usr/bin:/bin"}
    theirs = reference.run(["config", "--format", "json"], example, env)
    ours = subprocess.run([sys.executable, "-m", "orchestrator.cli", "config", "--format", "json"], cwd=example,
                          env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=False)
    assert theirs.code == 0 and ours.returncode == 0, theirs.stderr + ours.stderr
    assert ours.stdout == theirs.stdout
