"""Import of root filesystems as root: special files survive, and concurrent imports do not corrupt the store."""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from runtime.image import ImageConfig, ImageStore

pytestmark = pytest.mark.root


def _special_rootfs(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(b"binary")
    (root / "bin" / "busybox").chmod(0o755)
    os.link(root / "bin" / "busybox", root / "bin" / "sh")
    (root / "bin" / "ls").symlink_to("busybox")
    (root / "dev").mkdir()
    os.mknod(root / "dev" / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mkfifo(root / "fifo")
    (root / "ping").write_bytes(b"ping")
    os.setxattr(root / "ping", "security.capability",
                bytes.fromhex("0100000200200000000000000000000000000000"))  # cap_net_raw+ep
    (root / "owned").write_text("x")
    os.chown(root / "owned", 1234, 5678)
    os.utime(root / "owned", (1_234_567_890, 1_234_567_890))
    return root


def _check_special(layer: Path) -> None:
    assert os.lstat(layer / "bin/sh").st_ino == os.lstat(layer / "bin/busybox").st_ino
    assert os.readlink(layer / "bin/ls") == "busybox"
    null = os.lstat(layer / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.lstat(layer / "fifo").st_mode)
    assert os.getxattr(layer / "ping", "security.capability")[:4] == bytes.fromhex("01000002")
    owned = os.lstat(layer / "owned")
    assert (owned.st_uid, owned.st_gid, owned.st_mtime) == (1234, 5678, 1_234_567_890)


def test_import_of_a_directory_keeps_special_files(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    image = store.import_rootfs(_special_rootfs(tmp_path / "rootfs"), "special", ImageConfig(cmd=["sh"]))
    _check_special(image.layer_dirs[0])


def test_import_of_a_tarball_made_by_gnu_tar(tmp_path: Path) -> None:
    rootfs = _special_rootfs(tmp_path / "rootfs")
    tarball = tmp_path / "rootfs.tar.gz"
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "-czf", str(tarball), "-C", str(rootfs), "."],
                   check=True)
    store = ImageStore(tmp_path / "images")
    image = store.import_rootfs(tarball, "from-tar:1", ImageConfig(cmd=["sh"]))
    _check_special(image.layer_dirs[0])
    with tarfile.open(store.blob_path(store.read_json(image.manifest_digest)["layers"][0]["digest"])) as layer:
        # The original entries, re-written uncompressed: one of the two names is a hard link to the other.
        assert sorted(layer.getmember(n).islnk() for n in ("./bin/sh", "./bin/busybox")) == [False, True]


def _import_in_child(store_root: str, rootfs: str, reference: str, barrier: multiprocessing.synchronize.Barrier,
                     results: multiprocessing.queues.Queue[str]) -> None:
    store = ImageStore(Path(store_root))
    barrier.wait()
    results.put(store.import_rootfs(Path(rootfs), reference, ImageConfig(cmd=["sh"])).id)


def test_concurrent_imports_of_the_same_layer(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    for n in range(300):  # enough files that the two unpacks overlap
        (rootfs / f"d{n % 10}").mkdir(parents=True, exist_ok=True)
        (rootfs / f"d{n % 10}" / f"f{n}").write_bytes(os.urandom(2048))
    store_root = tmp_path / "images"
    ImageStore(store_root)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    results: multiprocessing.queues.Queue[str] = ctx.Queue()
    children = [ctx.Process(target=_import_in_child, args=(str(store_root), str(rootfs), ref, barrier, results))
                for ref in ("first", "second")]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [c.exitcode for c in children] == [0, 0]
    assert results.get(timeout=5) == results.get(timeout=5)

    store = ImageStore(store_root)
    image = store.resolve("first")
    assert image.references == ["docker.io/library/first:latest", "docker.io/library/second:latest"]
    assert [p.name for p in store.layers.iterdir()] == [image.layer_dirs[0].name]  # one layer, no leftovers
    assert not [p for p in store.blobs.iterdir() if p.name.startswith(".")]
    layer = image.layer_dirs[0]
    for n in range(300):
        relative = f"d{n % 10}/f{n}"
        assert (layer / relative).read_bytes() == (rootfs / relative).read_bytes()
