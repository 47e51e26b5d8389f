"""Errors a retry cannot fix (issue 20): the create's or restart's own error is the one reported,
the loop stops retrying and says why in `ps`, `events` and `up`'s output, until the next `up`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch

pytestmark = pytest.mark.root

NO_SUCH_USER = """
name: refused
services:
  a:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    user: ${USER_NAME}
    restart: always
"""

GONE_BIND = """
name: gonebind
services:
  b:
    image: pyorch.local/busybox:latest
    command: ["sleep", "1000"]
    volumes: ["${DATA}:/data"]
    restart: always
"""


def _rows(layout: HostLayout, compose: Path, **env: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(
        pyorch(layout, "-f", str(compose), "ps", "-a", "--format", "json", **env).stdout)
    return rows


def _errors(layout: HostLayout, compose: Path, name: str, **env: str) -> list[dict[str, object]]:
    lines = pyorch(layout, "-f", str(compose), "events", "--json", "--no-follow", "--since", "0", **env).stdout
    events = [json.loads(line) for line in lines.splitlines() if line.strip()]
    return [e for e in events if e["action"] == "error" and e["attributes"].get("name") == name]


def _wait(predicate: object, what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_unknown_user_is_reported_once_and_not_retried_until_the_next_up(layout: HostLayout,
                                                                             tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(NO_SUCH_USER)
    pyorch(layout, "image", "bootstrap")
    try:
        result = pyorch(layout, "-f", str(compose), "up", "-d", check=False, USER_NAME="nosuchuser")
        assert result.returncode != 0
        output = result.stdout + result.stderr
        # Docker's words, and not the network hook the dead process broke
        assert "unable to find user nosuchuser: no matching entries in passwd file" in output, output
        assert "veth" not in output and "/proc/" not in output, output
        assert "not retried until the next `up`" in output, output
        time.sleep(5)  # two passes of the loop and more: no retry
        errors = _errors(layout, compose, "refused-a-1", USER_NAME="nosuchuser")
        assert len(errors) == 1, errors
        assert errors[0]["attributes"]["retry"] == "False"
        (row,) = _rows(layout, compose, USER_NAME="nosuchuser")
        assert (row["name"], row["status"], row["id"]) == ("refused-a-1", "error", "")
        assert "unable to find user nosuchuser" in str(row["error"])
        table = pyorch(layout, "-f", str(compose), "ps", "-a", USER_NAME="nosuchuser").stdout
        assert "Error: " in table and "unable to find user nosuchuser" in table, table

        # the next `up` that fixes it runs the container, and the error is gone
        pyorch(layout, "-f", str(compose), "up", "-d", "--wait", USER_NAME="nobody")
        (row,) = _rows(layout, compose, USER_NAME="nobody")
        assert (row["status"], row["error"]) == ("running", None)
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "1", USER_NAME="nobody")


def test_a_restart_whose_bind_source_is_gone_is_not_retried_until_the_next_up(layout: HostLayout,
                                                                               tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(GONE_BIND)
    data = tmp_path / "data"
    data.mkdir()
    env = {"DATA": str(data)}
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", str(compose), "up", "-d", "--wait", **env)
        pyorch(layout, "-f", str(compose), "stop", **env)
        data.rmdir()
        result = pyorch(layout, "-f", str(compose), "start", check=False, **env)  # Docker's restart: same container
        assert result.returncode != 0
        assert f"bind source path does not exist: {data}" in result.stderr, result.stderr
        assert "not retried until the next `up`" in result.stderr, result.stderr
        time.sleep(5)  # `start` cleared the manual stop: `restart: always` would retry at every pass
        errors = _errors(layout, compose, "gonebind-b-1", **env)
        assert len(errors) == 1, errors
        (row,) = _rows(layout, compose, **env)
        assert row["status"] == "exited" and "bind source path does not exist" in str(row["error"]), row
        table = pyorch(layout, "-f", str(compose), "ps", "-a", **env).stdout
        assert "not restarted: " in table, table

        data.mkdir()
        pyorch(layout, "-f", str(compose), "up", "-d", "--wait", **env)
        (row,) = _rows(layout, compose, **env)
        assert (row["status"], row["error"]) == ("running", None)
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "1", **env)


IMAGE_USER = """
name: imguser
services:
  a:
    build: .
    command: ["sleep", "1000"]
    restart: always
"""


def test_an_image_whose_user_does_not_exist_is_reported_once(layout: HostLayout, tmp_path: Path) -> None:
    """The same refusal when the unknown user is the image's USER, not the service's `user:`."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(IMAGE_USER)
    (tmp_path / "Dockerfile").write_text("FROM pyorch.local/busybox:latest\nUSER nosuchuser\n")
    pyorch(layout, "image", "bootstrap")
    try:
        result = pyorch(layout, "-f", str(compose), "up", "-d", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "unable to find user nosuchuser: no matching entries in passwd file" in output, output
        assert "veth" not in output and "/proc/" not in output, output
        time.sleep(5)  # passes of the loop: no retry
        assert len(_errors(layout, compose, "imguser-a-1")) == 1
        (row,) = _rows(layout, compose)
        assert row["status"] == "error" and "unable to find user nosuchuser" in str(row["error"]), row
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "1", "--rmi", "local", check=False)
