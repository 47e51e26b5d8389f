"""Offline base images: built from the host's Debian packages, imported once, and they really run."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from runtime.image import ImageStore
from runtime.image.bootstrap import BUSYBOX_REF, PYTHON_REF, build_busybox_rootfs, ensure_base_images

pytestmark = pytest.mark.root


def _chroot(root: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run in the image's files with an empty environment, as a container would see them (minus isolation)."""
    return subprocess.run(["chroot", str(root), *command], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})


def test_busybox_rootfs(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    build_busybox_rootfs(root)
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    on_path = {p.name for d in ("", "bin", "sbin", "usr/bin", "usr/sbin") for p in (root / d).iterdir()}
    assert set(applets) <= on_path
    assert os.readlink(root / "bin/sh") == "/bin/busybox"
    assert stat.S_IMODE(os.lstat(root / "tmp").st_mode) == 0o1777
    passwd = (root / "etc/passwd").read_text()
    assert {line.split(":")[0] for line in passwd.splitlines()} >= {"root", "nobody", "www-data"}
    assert {line.split(":")[0] for line in (root / "etc/group").read_text().splitlines()} >= {"root", "nobody",
                                                                                             "www-data"}
    assert "localhost" in (root / "etc/hosts").read_text()
    assert (root / "www/index.html").read_text()
    ran = _chroot(root, "/bin/sh", "-c", "echo hello; id -un nobody; ls /www")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["hello", "nobody", "index.html"]


def test_ensure_base_images_builds_once(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    assert ensure_base_images(store) == [BUSYBOX_REF, PYTHON_REF]
    busybox, python = store.resolve("pyorch.local/busybox"), store.resolve(PYTHON_REF)
    assert busybox.config.cmd == ["sh"] and python.config.cmd == ["python3"]
    assert any(e.startswith("PATH=") for e in python.config.env)

    blobs_before = sorted(p.name for p in store.blobs.iterdir())
    assert ensure_base_images(store) == [BUSYBOX_REF, PYTHON_REF]  # idempotent: nothing rebuilt
    assert sorted(p.name for p in store.blobs.iterdir()) == blobs_before
    assert {i.id for i in store.list()} == {busybox.id, python.id}

    with pytest.raises(Exception, match="no such image"):
        store.resolve("busybox")
    store.tag(BUSYBOX_REF, "busybox")  # a user's own name for it resolves by the normal rules
    assert store.resolve("busybox").id == busybox.id
    assert store.resolve("docker.io/library/busybox:latest").id == busybox.id

    layer = python.layer_dirs[0]
    for unwanted in ("test", "tkinter", "idlelib", "ensurepip", "lib2to3", "site-packages"):
        assert not (layer / "usr/lib/python3.11" / unwanted).exists(), unwanted
    ran = _chroot(layer, "/usr/bin/python3", "-c",
                  "import sys, json, ssl, sqlite3, ctypes, zlib, lzma, bz2, hashlib, http.server, subprocess;"
                  "print(sys.version_info[:2], sys.executable)")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "(3, 11) /usr/bin/python3"
    shell = _chroot(layer, "/bin/sh", "-c", "echo from-busybox")
    assert shell.stdout.strip() == "from-busybox"
