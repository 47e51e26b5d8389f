"""Secrets and configs from the container's own tmpfs: owner, mode, read-only, never in the upper dir."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from runtime.container.file_mounts import FileMountError
from runtime.container.runconfig import FileMount, RunConfig
from runtime.container.runtime import ContainerRuntime
from tests.integration.container.test_isolation import run_to_exit, texts

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"
SECRET = "s3cret-" + os.urandom(8).hex()


def _upper_holds(rt: ContainerRuntime, cid: str, needle: bytes) -> list[str]:
    upper = rt.layout.containers_dir / cid / "upper"
    return [str(p) for p in upper.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def test_secret_and_config_have_their_owner_and_mode_and_stay_out_of_the_upper_dir(
        rt: ContainerRuntime, tmp_path: Path) -> None:
    config_file = tmp_path / "app.conf"
    config_file.write_text("listen 8080\n")
    script = ("id -u; echo \"$(cat /run/secrets/db_password)\"; stat -c '%a %u %g' /run/secrets/db_password; "
              "cat /etc/app/app.conf; stat -c '%a %u %g' /etc/app/app.conf; "
              "{ echo x > /run/secrets/db_password; } 2>/dev/null || echo secret-read-only; "
              "{ echo x > /etc/app/app.conf; } 2>/dev/null || echo config-read-only; ls /run/secrets")
    config = RunConfig(name="files", image=BUSYBOX, user="33:33", read_only=True, command=["sh", "-c", script],
                       files=[FileMount("/run/secrets/db_password", content=SECRET, uid=33, gid=33, mode=0o400),
                              FileMount("/etc/app/app.conf", source=str(config_file), mode=0o444)])
    info, log = run_to_exit(rt, config)
    assert texts(log) == ["33", SECRET, "400 33 33", "listen 8080", "444 0 0", "secret-read-only",
                          "config-read-only", "db_password"], log
    assert _upper_holds(rt, info.id, SECRET.encode()) == []
    assert _upper_holds(rt, info.id, b"listen 8080") == []


def test_a_restarted_container_gets_its_secrets_again(rt: ContainerRuntime) -> None:
    config = RunConfig(name="again", image=BUSYBOX, command=["cat", "/run/secrets/token"],
                       files=[FileMount("/run/secrets/token", content=SECRET)])
    info, log = run_to_exit(rt, config)
    assert texts(log) == [SECRET]
    rt.respawn(info.id, restart_count=1)  # a restart mounts them again: the value was kept in the bundle
    rt.start(info.id)
    deadline = time.monotonic() + 20
    while rt.inspect(info.id).status != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert texts(rt.log_path(info.id).read_text()) == [SECRET, SECRET]
    stored = rt.layout.containers_dir / info.id / "file-contents" / "0"
    assert stored.stat().st_mode & 0o777 == 0o600


def test_bad_requests_are_refused_before_anything_is_made(rt: ContainerRuntime, tmp_path: Path) -> None:
    before = set(rt.layout.containers_dir.iterdir())
    for files, message in (
        ([FileMount("/run/secrets/x", source=str(tmp_path / "missing"))], "cannot read"),
        ([FileMount("relative", content="a")], "must be an absolute file path"),
        ([FileMount("/a/../b", content="a")], "must be an absolute file path"),
        ([FileMount("/x", content="a"), FileMount("/x", content="b")], "two secrets/configs have the target /x"),
    ):
        with pytest.raises(FileMountError, match=message):
            rt.create(RunConfig(name="bad", image=BUSYBOX, command=["true"], files=files))
    assert set(rt.layout.containers_dir.iterdir()) == before
