"""Compose verbs through the CLI as a user types them: up --scale/--no-deps, scale, run, rm, wait,
inspect, ps --services, logs --since/--no-color, attached up, down --rmi, and Swarm's restart_policy."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.e2e.test_engine import events
from tests.helpers import REPO, env_for, pyorch, wait_until, write

pytestmark = pytest.mark.root

LOOP = "trap 'exit 0' TERM; while :; do sleep 0.1; done"
COMPOSE = f"""
name: verbs
services:
  db:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{LOOP}"]
  web:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo web-up; {LOOP}"]
    depends_on: [db]
  job:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo job-ran; exit 4"]
"""


def rows(layout: HostLayout, file: str) -> list[dict[str, object]]:
    result: list[dict[str, object]] = json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout)
    return result


def names(layout: HostLayout, file: str, service: str) -> list[str]:
    return [str(r["name"]) for r in rows(layout, file) if r["service"] == service]


def test_scale_run_rm_wait_inspect(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    try:
        # `up --no-deps web`: web alone, its dependency db is not started
        pyorch(layout, "-f", file, "up", "-d", "--no-deps", "--scale", "web=2", "web")
        assert names(layout, file, "web") == ["verbs-web-1", "verbs-web-2"]
        assert names(layout, file, "db") == [] and names(layout, file, "job") == []
        # `up job` adds job and keeps web's two replicas as stored
        pyorch(layout, "-f", file, "up", "-d", "job")
        assert len(names(layout, file, "web")) == 2
        waited = pyorch(layout, "-f", file, "wait", "job", check=False)
        assert waited.returncode == 4, waited.stderr

        # scale: up with the next number, down removing the highest
        pyorch(layout, "-f", file, "scale", "web=3")
        assert names(layout, file, "web") == ["verbs-web-1", "verbs-web-2", "verbs-web-3"]
        pyorch(layout, "-f", file, "scale", "web=1")
        assert names(layout, file, "web") == ["verbs-web-1"]

        services = pyorch(layout, "-f", file, "ps", "-a", "--services").stdout.split()
        assert services == ["job", "web"]

        # run: overrides, the command's exit code, stdout and stderr kept apart, --rm
        run = pyorch(layout, "-f", file, "run", "--rm", "--no-deps", "-e", "X=hello", "-u", "1000", "-w", "/tmp",
                     "job", "sh", "-c", "echo $X $(id -u) $(pwd); echo oops >&2; exit 7", check=False)
        assert run.returncode == 7, run.stderr
        assert run.stdout.strip() == "hello 1000 /tmp"
        assert "oops" in run.stderr
        entry = pyorch(layout, "-f", file, "run", "--rm", "--no-deps", "--entrypoint", "sh -c", "job", "echo via-sh")
        assert entry.stdout.strip() == "via-sh"
        detached = pyorch(layout, "-f", file, "run", "-d", "--no-deps", "job", "sleep", "30").stdout.strip()
        assert re.fullmatch(r"verbs-job-run-[0-9a-f]{12}", detached), detached
        assert detached not in [str(r["name"]) for r in rows(layout, file)]  # not a replica

        # inspect: policy, history, health and events of a container
        [detail] = json.loads(pyorch(layout, "-f", file, "inspect", "verbs-job-1").stdout)
        assert detail["status"] == "exited" and detail["exit_code"] == 4
        assert detail["restart_policy"] == {"restart": "no", "deploy": None}
        assert detail["labels"]["com.docker.compose.service"] == "job"
        assert any(e["kind"] == "container-start" for e in detail["events"])

        # logs: --no-color keeps plain prefixes; --since in the future shows nothing
        plain = pyorch(layout, "-f", file, "logs", "--no-color", "job").stdout
        assert "verbs-job-1  | job-ran" in plain and "\x1b[" not in plain
        assert pyorch(layout, "-f", file, "logs", "--since", str(time.time() + 60), "job").stdout.strip() == ""
        assert "job-ran" in pyorch(layout, "-f", file, "logs", "--since", "10m", "job").stdout

        # rm: stopped containers go, and the loop does not bring them back
        pyorch(layout, "-f", file, "stop", "web")
        removed = pyorch(layout, "-f", file, "rm", "-f", "web")
        assert "verbs-web-1" in removed.stderr
        time.sleep(2.5)  # longer than one reconcile pass (2 s)
        assert names(layout, file, "web") == []
    finally:
        down = pyorch(layout, "-f", file, "down", "-t", "1")
    assert detached in down.stderr  # the one-off container left behind goes with the project


def test_swarm_restart_policy_max_attempts_and_delay(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, """
name: swarmrp
services:
  c:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "exit 2"]
    restart: always
    deploy:
      restart_policy: {condition: on-failure, delay: 300ms, max_attempts: 2}
""")
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        wait_until(lambda: len(events(layout, "container-restart")) >= 2, "two restarts")
        wait_until(lambda: rows(layout, file)[0]["status"] == "exited", "the last exit")
        time.sleep(2.5)  # a further pass must not restart it: deploy.restart_policy wins over restart: always
        restarts = events(layout, "container-restart")
        assert len(restarts) == 2
        assert [float(e["delay"]) for e in restarts] == [0.3, 0.3]  # Swarm's fixed delay, not Docker's backoff
        for e in restarts:
            assert float(e["ts"]) >= float(e["not_before"])
        [detail] = json.loads(pyorch(layout, "-f", file, "inspect", "c").stdout)
        assert len(detail["restart_history"]) == 2
        assert detail["restart_policy"]["deploy"]["max_attempts"] == 2
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_attached_up_streams_and_ends_and_down_rmi(layout: HostLayout, tmp_path: Path) -> None:
    pyorch(layout, "image", "bootstrap")
    # an image only this test uses, so `down --rmi all` can remove it
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
    (rootfs / "bin" / "sh").symlink_to("busybox")
    reference = f"pyorch.test/rmi-{secrets.token_hex(4)}:1"
    pyorch(layout, "import", str(rootfs), reference, "--cmd", "/bin/sh")
    file = write(tmp_path, f"""
name: attached
services:
  a:
    image: {reference}
    command: ["/bin/busybox", "sh", "-c", "echo from-a; exit 0"]
  b:
    image: {reference}
    command: ["/bin/busybox", "sh", "-c", "echo from-b; sleep 0.5; exit 5"]
""")
    try:
        result = pyorch(layout, "-f", file, "up", "--no-color", timeout=60)
        assert result.returncode == 0
        assert "attached-a-1  | from-a" in result.stdout and "attached-b-1  | from-b" in result.stdout
        assert "attached-b-1 exited with code 5" in result.stderr
        aborted = pyorch(layout, "-f", file, "up", "--exit-code-from", "b", "--force-recreate", check=False,
                         timeout=60)
        assert aborted.returncode == 5, aborted.stderr
        # Ctrl-C on an attached up stops the containers (they stay) like Compose
        (tmp_path / "loop").mkdir()
        looping = write(tmp_path / "loop", f"""
name: attachedint
services:
  l:
    image: {reference}
    command: ["/bin/busybox", "sh", "-c", "echo looping; {LOOP}"]
""")
        proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "-f", looping, "up"],
                                cwd=REPO, env=env_for(layout), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            wait_until(lambda: [r["status"] for r in rows(layout, looping)] == ["running"], "the looping service")
            time.sleep(1)
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=60)
        finally:  # left running, it would start its engine again after the teardown
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 130, stderr
        assert "Gracefully stopping" in stderr and "looping" in stdout
        assert [r["status"] for r in rows(layout, looping)] == ["exited"]
    finally:
        if (tmp_path / "loop" / "compose.yaml").exists():
            pyorch(layout, "-f", str(tmp_path / "loop" / "compose.yaml"), "down", "-t", "1")
        down = pyorch(layout, "-f", file, "down", "-t", "1", "--rmi", "all")
    assert "Image " + reference in down.stderr
    assert reference not in pyorch(layout, "images").stdout
