"""State on disk is closed to other users: a local non-root user cannot read a service's environment
from the engine's database, a container's spec or its writable layer (issue: hardening)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.gc import purge_instance, stop_daemons
from runtime.layout import HostLayout
from tests.helpers import pyorch, write

pytestmark = pytest.mark.root

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


@pytest.fixture
def open_parent_layout(layout: HostLayout, shared_images: Path) -> Iterator[HostLayout]:
    """An instance whose state root sits in a world-traversable directory (as /var/lib is), and
    was made open (0755) before pyorch first ran, as an older pyorch left it."""
    parent = Path(tempfile.mkdtemp(prefix="pyorch-perm-", dir="/var/tmp"))
    parent.chmod(0o755)
    lay = HostLayout(state_root=parent / "state", run_root=parent / "run", instance=layout.instance)
    lay.state_root.mkdir(mode=0o755)
    (lay.state_root / "images").symlink_to(shared_images)
    try:
        yield lay
    finally:
        stop_daemons(lay)
        purge_instance(lay)
        shutil.rmtree(parent, ignore_errors=True)


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *command], capture_output=True, text=True, check=False, timeout=30)


def closed_to_others(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_a_local_user_cannot_read_secrets_from_the_state_root(open_parent_layout: HostLayout,
                                                               tmp_path: Path) -> None:
    lay = open_parent_layout
    password = "pw-" + secrets.token_hex(8)
    file = write(tmp_path, f"""
name: private
services:
  app:
    image: pyorch.local/busybox:latest
    environment:
      DB_PASSWORD: {password}
    command: ["sh", "-c", "echo $$DB_PASSWORD > /written-by-app; exec sleep 3600"]
""")
    pyorch(lay, "image", "bootstrap")
    try:
        pyorch(lay, "-f", file, "up", "-d", "--wait")
        cid = str(json.loads(pyorch(lay, "-f", file, "ps", "--format", "json").stdout)[0]["id"])
        bundle = lay.containers_dir / cid
        assert (bundle / "upper" / "written-by-app").read_text().strip() == password

        for path in (lay.state_root, lay.run_root, lay.containers_dir, bundle):
            assert closed_to_others(path), f"{path} is {oct(path.stat().st_mode)}"
        for path in (lay.state_root / "engine.db", bundle / "spec.json", bundle / "container.json"):
            assert closed_to_others(path), f"{path} is {oct(path.stat().st_mode)}"
        for suffix in ("-wal", "-shm"):
            journal = lay.state_root / ("engine.db" + suffix)
            if journal.exists():
                assert closed_to_others(journal), f"{journal} is {oct(journal.stat().st_mode)}"

        # What an unprivileged local user gets when they try.
        targets = [lay.state_root / "engine.db", bundle / "spec.json", bundle / "upper" / "written-by-app"]
        for target in targets:
            result = as_nobody("cat", str(target))
            assert result.returncode != 0 and password not in result.stdout, target
        found = as_nobody("grep", "-r", "-l", password, str(lay.state_root))
        assert password not in found.stdout and found.stdout.strip() == ""
        assert as_nobody("ls", str(bundle / "upper")).returncode != 0
    finally:
        pyorch(lay, "-f", file, "down", check=False)
    assert os.path.isdir(lay.state_root)
