"""compose-examples/webapp as its users run it, every step of issue 13's list through the CLI, as
root on the host as it is: images built FROM Debian with apt-get; `up -d --wait` (the migration
one-shot counts as done); 50 requests through nginx that write to PostgreSQL and Redis; psql in
the db; a one-off `run --rm app`; the secret where and how it is asked and never in the upper
directory; the debug profile; `restart db` keeps the rows; a replica killed is restarted by its
policy; a new app tag rolled out under load with no failed request; the same tag rebuilt and `up`
recreating what runs it; down/up keeps the rows; down -v removes them, and nothing is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.layout import HostLayout
from tests.compose_diff import reference
from tests.helpers import REPO, free_port, pyorch

pytestmark = pytest.mark.root
EXAMPLE = str(REPO / "compose-examples/webapp/compose.yaml")
PROJECT = "webapptest"


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        body: dict[str, Any] = json.loads(response.read())
        return body


def _until(check: Callable[[], bool], what: str, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@dataclass
class Load:
    """Requests through the proxy, one after another, for as long as the block runs."""

    url: str
    answers: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@contextmanager
def under_load(url: str) -> Iterator[Load]:
    load = Load(url)
    done = threading.Event()

    def hit() -> None:
        while not done.is_set():
            try:
                load.answers.append(_get(url))
            except Exception as exc:  # every way a request can fail counts
                load.failures.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=hit, daemon=True)
    thread.start()
    try:
        yield load
    finally:
        done.set()
        thread.join(timeout=30)


class Stack:
    """The CLI on the example, with the environment a user would set."""

    def __init__(self, layout: HostLayout, port: int) -> None:
        self.layout = layout
        self.env = {"WEB_PORT": str(port)}
        self.url = f"http://127.0.0.1:{port}/"

    def __call__(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        return pyorch(self.layout, "-f", EXAMPLE, "-p", PROJECT, *args, timeout=timeout, check=check, **self.env)

    def ps(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(self("ps", "-a", "--format", "json").stdout)
        return rows

    def service(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.ps() if r["service"] == name]

    def rows_in_db(self) -> int:
        return int(self("exec", "db", "psql", "-h", "/tmp", "-U", "shop", "-d", "shop", "-tAc",
                        "select count(*) from visits").stdout.strip())

    def image_id(self, cid: str) -> str:
        return str(json.loads((self.layout.containers_dir / cid / "container.json").read_text())["image_id"])


def _count_up(stack: Stack, n: int) -> dict[str, Any]:
    """``n`` requests, each a new row and a new hit; returns the last answer."""
    last = _get(stack.url)
    replicas = {last["replica"]}
    for _ in range(n - 1):
        answer = _get(stack.url)
        assert answer["rows"] == last["rows"] + 1 and answer["hits"] == last["hits"] + 1, (last, answer)
        replicas.add(answer["replica"])
        last = answer
    assert len(replicas) > 1  # nginx spreads the visits over the app's replicas
    return last


def _roll(stack: Stack, *args: str) -> Load:
    """`up -d` that rolls the app out while requests flow, then waits for the rollout to end."""
    with under_load(stack.url) as load:
        stack("up", "-d", *args, timeout=600)
        status = stack("rollout", "status", "--wait", timeout=600)
        assert "completed" in status.stdout + status.stderr, status.stdout + status.stderr
        served = len(load.answers)
        _until(lambda: len(load.answers) > served + 5, "requests after the rollout")
    return load


def _traces(stack: Stack, ids: list[str]) -> list[str]:
    """What of the project the kernel or the state root still holds (the engine still runs)."""
    layout = stack.layout
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    names = {line.split(": ")[1].split("@")[0] for line in links.splitlines() if ": " in line}
    networks = (f"{PROJECT}_frontend", f"{PROJECT}_backend")
    kernel = {layout.bridge_name(n) for n in networks} | {layout.veth_name(c, n) for c in ids for n in networks}
    traces = [f"link {name}" for name in sorted(kernel & names)]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    if layout.nft_table in tables:
        traces.append(f"nft table {layout.nft_table}")
    traces += [f"bundle {c}" for c in ids if (layout.containers_dir / c).exists()]
    with open("/proc/self/mountinfo") as f:
        traces += [f"mount {line.split()[4]}" for line in f if str(layout.state_root) in line.split()[4]]
    return traces


def test_the_webapp_example_runs_every_step_as_users_run_it(layout: HostLayout, debian_image: str) -> None:
    stack = Stack(layout, free_port())
    try:
        stack("build", timeout=900)

        # up -d --wait returns when it is ready: the migration done, the app's replicas healthy
        stack("up", "-d", "--wait")
        apps = stack.service("app")
        assert len(apps) == 3 and all(r["health"]["status"] == "healthy" for r in apps), apps
        assert [r["exit_code"] for r in stack.service("migrate")] == [0]
        last = _count_up(stack, 50)  # the first request already answers: no retry needed after --wait

        assert stack.rows_in_db() == last["rows"]
        one_off = stack("run", "--rm", "app", "python3", "-c",
                        "from settings import connect_db; c = connect_db().cursor(); "
                        "c.execute('select count(*) from visits'); print('rows', c.fetchone()[0])")
        assert f"rows {last['rows']}" in one_off.stdout
        assert [r for r in stack.ps() if "-run-" in r["name"]] == []  # --rm removed it

        shown = stack("exec", "db", "stat", "-c", "%a %U", "/run/secrets/db_password",
                      "/var/lib/postgresql/data").stdout.split()
        assert shown == ["400", "postgres", "700", "postgres"]  # the secret as asked; the volume as the image had it
        db = stack.service("db")[0]
        password = (REPO / "compose-examples/webapp/secrets/db_password.txt").read_bytes().strip()
        upper = layout.containers_dir / str(db["id"]) / "upper"
        assert [p for p in upper.rglob("*") if p.is_file() and password in p.read_bytes()] == []

        toolbox = stack("--profile", "debug", "run", "--rm", "toolbox", timeout=600)
        assert str(last["rows"]) in toolbox.stdout.split()

        # restart db: the same container again, the rows still there
        stack("restart", "db")
        _until(lambda: stack.service("db")[0]["health"]["status"] == "healthy", "db healthy again")
        after = _get(stack.url)
        assert after["rows"] == last["rows"] + 1 and stack.service("db")[0]["id"] == db["id"]

        # a replica killed (SIGKILL of its init, as the OOM killer or an operator would) is
        # restarted by its restart policy, in the same container
        victim = stack.service("app")[1]
        os.kill(int(victim["pid"]), signal.SIGKILL)
        _until(lambda: any(r["id"] == victim["id"] and r["restart_count"] == 1 and r["status"] == "running"
                           and r["health"]["status"] == "healthy" for r in stack.service("app")),
               "the killed replica restarted by its policy")

        # a new app tag rolled out, replica by replica, while requests flow: none fails
        stack.env["APP_VERSION"] = "2"
        load = _roll(stack)
        assert load.failures == [] and load.answers, load.failures[:5]
        assert load.answers[-1]["version"] == "2"
        apps = stack.service("app")
        assert len(apps) == 3 and {r["image"] for r in apps} == {"webapp/app:2"}

        # the same tag rebuilt with a change (a new release baked in): `up` recreates what runs it
        stack.env["APP_RELEASE"] = "2b"
        before = {r["id"]: stack.image_id(r["id"]) for r in stack.service("app")}
        stack("build", "app", timeout=900)
        load = _roll(stack)
        assert load.failures == [] and load.answers, load.failures[:5]
        assert load.answers[-1]["release"] == "2b" and load.answers[-1]["version"] == "2"
        now = {r["id"]: stack.image_id(r["id"]) for r in stack.service("app")}
        assert not set(now) & set(before) and len(set(now.values())) == 1
        assert set(now.values()).isdisjoint(before.values())
        migrate = stack.service("migrate")
        assert [stack.image_id(r["id"]) for r in migrate] == list(set(now.values()))  # it ran from the new image

        # down then up: the rows are in the named volume
        rows = stack.rows_in_db()
        stack("down")
        stack("up", "-d", "--wait")
        assert _get(stack.url)["rows"] == rows + 1

        # down -v: the volume goes with it, and nothing of the project is left
        ids = [r["id"] for r in stack.ps()]
        stack("down", "-v")
        assert stack.ps() == []
        assert f"{PROJECT}_dbdata" not in pyorch(layout, "volume", "ls", "-q").stdout.split()
        assert _traces(stack, ids) == []
    finally:
        stack("down", "-v", check=False)


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
