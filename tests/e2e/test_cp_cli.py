"""`pyorch cp` both ways, as `docker compose cp`: a tree round-trips with its modes and owners (-a),
Docker's path rules, and owners without -a; a stopped container's files and volumes; tar streams
from stdin and to stdout (`-`)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import REPO, env_for, pyorch, write

pytestmark = pytest.mark.root

COMPOSE = """
name: copies
services:
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
"""


def make_tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "sub" / "secret").write_bytes(os.urandom(70000))
    os.symlink("a.txt", root / "link")
    for path, mode, owner in ((root / "a.txt", 0o640, (1234, 5678)), (root / "sub", 0o750, (42, 43)),
                              (root / "sub" / "run.sh", 0o4755, (0, 0)), (root / "sub" / "secret", 0o600, (1000, 1000)),
                              (root, 0o755, (7, 7))):
        os.chown(path, *owner)
        os.chmod(path, mode)
    os.lchown(root / "link", 99, 98)


def listing(root: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every entry under ``root``: mode, uid, gid and content (a link's target)."""
    found: dict[str, tuple[int, int, int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            content = os.readlink(path).encode()
        elif stat.S_ISDIR(st.st_mode):
            content = b""
        else:
            content = path.read_bytes()
        found[str(path.relative_to(root))] = (stat.S_IMODE(st.st_mode) | stat.S_IFMT(st.st_mode), st.st_uid,
                                              st.st_gid, content)
    return found


def in_container(layout: HostLayout, file: str, script: str) -> str:
    return pyorch(layout, "-f", file, "exec", "-T", "app", "sh", "-c", script).stdout


def test_a_tree_round_trips_with_owners_and_modes(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, COMPOSE)
    source = tmp_path / "tree"
    make_tree(source)
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        in_container(layout, file, "mkdir -p /srv")
        pyorch(layout, "-f", file, "cp", "-a", str(source), "app:/srv")  # /srv exists: tree goes in under its name
        seen = in_container(layout, file, "cd /srv/tree && stat -c '%a %u %g %n' a.txt sub sub/run.sh link")
        assert seen.split("\n")[:4] == ["640 1234 5678 a.txt", "750 42 43 sub", "4755 0 0 sub/run.sh",
                                        "777 99 98 link"]
        back = tmp_path / "back"
        pyorch(layout, "-f", file, "cp", "-a", "app:/srv/tree", str(back))  # missing: becomes the copy
        assert listing(back) == listing(source)
        assert stat.S_IMODE(back.stat().st_mode) == 0o755 and back.stat().st_uid == 7

        pyorch(layout, "-f", file, "cp", str(source / "a.txt"), "app:/tmp/renamed.txt")  # no -a: root's
        assert in_container(layout, file, "stat -c '%a %u %g' /tmp/renamed.txt; cat /tmp/renamed.txt") == \
            "640 0 0\nalpha\n"
        pyorch(layout, "-f", file, "cp", f"{source}/.", "app:/tmp")  # the directory's contents
        assert in_container(layout, file, "cat /tmp/a.txt; ls /tmp/sub") == "alpha\nrun.sh\nsecret\n"

        refused = pyorch(layout, "-f", file, "cp", str(source), "app:/tmp/renamed.txt", check=False)
        assert refused.returncode == 1 and "cannot copy a directory to a file" in refused.stderr
        missing = pyorch(layout, "-f", file, "cp", "app:/nowhere", str(tmp_path / "x"), check=False)
        assert missing.returncode == 1 and "no such file or directory" in missing.stderr
        both = pyorch(layout, "-f", file, "cp", "a", "b", check=False)
        assert both.returncode == 1 and "SERVICE:PATH" in both.stderr
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


def test_a_link_in_the_container_cannot_lead_a_copy_out(layout: HostLayout, tmp_path: Path) -> None:
    """A container that points a path at the host's files gets its own files, never the host's."""
    file = write(tmp_path, COMPOSE)
    pyorch(layout, "image", "bootstrap")
    marker = tmp_path / "host-only"
    marker.write_text("host secret\n")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        in_container(layout, file, f"mkdir -p {tmp_path} && ln -s {marker} /escape && echo inside > /inside")
        out = tmp_path / "out"
        result = pyorch(layout, "-f", file, "cp", "-L", "app:/escape", str(out), check=False)
        assert "host secret" not in (out.read_text() if out.exists() else "")
        assert result.returncode == 1  # /escape resolves inside the container, where nothing is there
        # Into the container through a link to a directory the host has too: it lands in the container's.
        in_container(layout, file, f"ln -s {tmp_path} /hostdir")
        payload = tmp_path / "payload.txt"
        payload.write_text("for the container\n")
        pyorch(layout, "-f", file, "cp", str(payload), "app:/hostdir/landed.txt")
        assert not (tmp_path / "landed.txt").exists()
        assert in_container(layout, file, f"cat {tmp_path}/landed.txt") == "for the container\n"
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


WITH_VOLUME = """
name: copies
services:
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    volumes: ["data:/data"]
  sealed:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    read_only: true
    volumes: ["data:/data"]
volumes:
  data: {}
"""


def cp_bytes(layout: HostLayout, file: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """`pyorch cp` with binary stdin and stdout (the `-` forms)."""
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", "-f", file, "cp", *args], cwd=REPO,
                          env=env_for(layout), input=stdin, capture_output=True, timeout=180, check=False)


def a_tar(name: str, data: bytes, mode: int, uid: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid = len(data), mode, uid, uid
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_a_stopped_container_and_tar_streams(layout: HostLayout, tmp_path: Path) -> None:
    """As `docker compose cp`: a stopped container's root and volumes both ways; `-` streams a tar."""
    file = write(tmp_path, WITH_VOLUME)
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        in_container(layout, file, "echo in-volume > /data/v.txt; echo in-root > /etc/r.txt")
        pyorch(layout, "-f", file, "stop", "-t", "1")
        assert "exited" in pyorch(layout, "-f", file, "ps", "-a").stdout.lower()

        pyorch(layout, "-f", file, "cp", "app:/etc/r.txt", str(tmp_path / "r.txt"))
        pyorch(layout, "-f", file, "cp", "app:/data/v.txt", str(tmp_path / "v.txt"))
        assert (tmp_path / "r.txt").read_text() == "in-root\n" and (tmp_path / "v.txt").read_text() == "in-volume\n"
        (tmp_path / "new.txt").write_text("while stopped\n")
        pyorch(layout, "-f", file, "cp", str(tmp_path / "new.txt"), "app:/data/new.txt")
        pyorch(layout, "-f", file, "cp", str(tmp_path / "new.txt"), "app:/etc/new.txt")

        streamed = cp_bytes(layout, file, "app:/etc", "-")  # a stopped container's directory as a tar
        assert streamed.returncode == 0, streamed.stderr
        with tarfile.open(fileobj=io.BytesIO(streamed.stdout)) as tar:
            members = {m.name: m for m in tar.getmembers()}
            assert members["etc"].isdir()
            extracted = tar.extractfile(members["etc/r.txt"])
            assert extracted is not None and extracted.read() == b"in-root\n"

        given = cp_bytes(layout, file, "-a", "-", "app:/tmp", stdin=a_tar("streamed.txt", b"from stdin\n", 0o640, 1234))
        assert given.returncode == 0, given.stderr
        onto_file = cp_bytes(layout, file, "-", "app:/etc/r.txt", stdin=a_tar("x", b"x", 0o644, 0))
        assert onto_file.returncode == 1 and b"must be a directory" in onto_file.stderr

        # read_only: true stays read-only while stopped; its volume does not
        sealed = pyorch(layout, "-f", file, "cp", str(tmp_path / "new.txt"), "sealed:/etc/new.txt", check=False)
        assert sealed.returncode == 1 and "read-only" in sealed.stderr.lower()
        pyorch(layout, "-f", file, "cp", str(tmp_path / "new.txt"), "sealed:/data/sealed.txt")

        pyorch(layout, "-f", file, "start")
        assert in_container(layout, file, "cat /data/sealed.txt") == "while stopped\n"
        assert in_container(layout, file, "cat /data/new.txt /etc/new.txt; stat -c '%a %u' /tmp/streamed.txt; "
                                          "cat /tmp/streamed.txt") == \
            "while stopped\nwhile stopped\n640 1234\nfrom stdin\n"
        running = cp_bytes(layout, file, "app:/tmp/streamed.txt", "-")  # the running container too
        with tarfile.open(fileobj=io.BytesIO(running.stdout)) as tar:
            assert [m.name for m in tar.getmembers()] == ["streamed.txt"]
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1", "-v")
