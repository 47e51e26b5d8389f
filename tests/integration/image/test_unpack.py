"""Layer unpacking against the real kernel: exact metadata, overlay whiteouts, hostile layers refused."""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.image import HostileLayer, ImageConfig, ImageError, ImageStore
from runtime.image.store import Layer
from runtime.image.unpack import unpack_layer
from tests.integration.image.layers import (
    Entry,
    directory,
    file,
    hardlink,
    layer_bytes,
    overlay_view,
    symlink,
)

pytestmark = pytest.mark.root


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "layer"
    path.mkdir()
    return path


def _unpack(entries: list[Entry], into: Path, compression: str = "") -> None:
    unpack_layer(io.BytesIO(layer_bytes(entries, compression)), str(into))


def _store_layer(store: ImageStore, entries: list[Entry]) -> Layer:
    digest = store.put_blob(layer_bytes(entries))
    return Layer(digest, digest, store.blob_path(digest).stat().st_size)


# --- exactness ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["", "gz", "xz", "bz2"])
def test_metadata_is_kept_exactly(target: Path, compression: str) -> None:
    _unpack([
        directory("etc", mode=0o750, uid=0, gid=4, mtime=1_500_000_000),
        file("etc/shadow", b"secret", mode=0o640, gid=42, mtime=1_400_000_000),
        file("usr/bin/su", b"\x7fELF", mode=0o4755, uid=0, gid=0),
        file("home/user/notes", b"hi", mode=0o600, uid=1000, gid=1000),
        directory("tmp", mode=0o1777),
        symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
        Entry("usr/bin/ping", data=b"ping", mode=0o755, xattrs={"user.origin": "pyorch-test"}),
    ], target, compression)
    etc = os.lstat(target / "etc")
    assert (stat.S_IMODE(etc.st_mode), etc.st_gid, etc.st_mtime) == (0o750, 4, 1_500_000_000)
    shadow = os.lstat(target / "etc/shadow")
    assert (stat.S_IMODE(shadow.st_mode), shadow.st_gid, shadow.st_mtime) == (0o640, 42, 1_400_000_000)
    assert (target / "etc/shadow").read_bytes() == b"secret"
    assert stat.S_IMODE(os.lstat(target / "usr/bin/su").st_mode) == 0o4755  # chown did not clear setuid
    notes = os.lstat(target / "home/user/notes")
    assert (notes.st_uid, notes.st_gid) == (1000, 1000)
    assert stat.S_IMODE(os.lstat(target / "tmp").st_mode) == 0o1777
    assert os.readlink(target / "etc/localtime") == "/usr/share/zoneinfo/UTC"  # kept, not followed
    assert os.getxattr(target / "usr/bin/ping", "user.origin") == b"pyorch-test"
    assert stat.S_IMODE(os.lstat(target / "usr").st_mode) == 0o755  # made for a missing parent


def test_hard_links_devices_and_fifos(target: Path) -> None:
    _unpack([
        file("bin/busybox", b"multi-call", mode=0o755),
        hardlink("bin/sh", "bin/busybox"),
        hardlink("usr/bin/env", "/bin/busybox"),  # absolute link names are inside the layer too
        Entry("dev/null", tarfile.CHRTYPE, mode=0o666, major=1, minor=3),
        Entry("dev/loop9", tarfile.BLKTYPE, mode=0o660, gid=6, major=7, minor=9),
        Entry("run/initctl", tarfile.FIFOTYPE, mode=0o600),
    ], target)
    busybox = os.lstat(target / "bin/busybox")
    assert os.lstat(target / "bin/sh").st_ino == busybox.st_ino == os.lstat(target / "usr/bin/env").st_ino
    assert busybox.st_nlink == 3
    null = os.lstat(target / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    loop = os.lstat(target / "dev/loop9")
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 9) and loop.st_gid == 6
    assert stat.S_ISFIFO(os.lstat(target / "run/initctl").st_mode)


def test_later_entries_replace_earlier_ones(target: Path) -> None:
    _unpack([
        file("a", b"first"), file("a", b"second"),
        directory("d"), file("d/inner"), file("d", b"now a file"),
        file("e", b"a file"), directory("e", mode=0o700),
        symlink("s", "/nowhere"), file("s", b"replaced the link"),
    ], target)
    assert (target / "a").read_bytes() == b"second"
    assert (target / "d").read_bytes() == b"now a file"
    assert (target / "e").is_dir() and stat.S_IMODE(os.lstat(target / "e").st_mode) == 0o700
    assert not (target / "s").is_symlink() and (target / "s").read_bytes() == b"replaced the link"


def test_whiteouts_become_overlay_whiteouts(target: Path) -> None:
    _unpack([directory("a"), file("a/.wh.gone"), file("a/.wh..wh..opq"), file(".wh.top")], target)
    gone = os.lstat(target / "a/gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == os.makedev(0, 0)
    assert stat.S_ISCHR(os.lstat(target / "top").st_mode)
    assert os.getxattr(target / "a", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(target / "a")) == ["gone"]  # the markers themselves are not kept


def test_overlay_of_two_layers_shows_the_right_view(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    bottom = _store_layer(store, [
        directory("etc"), file("etc/keep", b"k"), file("etc/drop", b"d"), file("etc/change", b"old"),
        directory("var/cache"), file("var/cache/one"), file("var/cache/two"), file("removed-file"),
        directory("removed-dir"), file("removed-dir/x"),
    ])
    top = _store_layer(store, [
        file("etc/.wh.drop"), file("etc/change", b"new"), file(".wh.removed-file"), file(".wh.removed-dir"),
        directory("var/cache"), file("var/cache/.wh..wh..opq"), file("var/cache/three"),
        file("removed-file-2"),
    ])
    image = store.add_image([bottom, top], ImageConfig(cmd=["sh"]), "layered:1")
    assert [p.name for p in image.layer_dirs] == [bottom.diff_id[7:], top.diff_id[7:]]  # bottom first
    with overlay_view(list(reversed(image.layer_dirs)), tmp_path / "merged") as view:
        assert sorted(os.listdir(view / "etc")) == ["change", "keep"]
        assert (view / "etc/change").read_bytes() == b"new"
        assert os.listdir(view / "var/cache") == ["three"]
        assert not (view / "removed-file").exists() and not (view / "removed-dir").exists()
        assert sorted(os.listdir(view)) == ["etc", "removed-file-2", "var"]


# --- hostile layers ---------------------------------------------------------------------------------------

@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside the layer that a hostile layer tries to write into."""
    path = Path("/tmp") / f"pyorch-outside-{secrets.token_hex(4)}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _hostile_cases(outside: Path) -> dict[str, list[Entry]]:
    return {
        "dot-dot": [file("../escaped", b"x")],
        "dot-dot inside": [directory("a"), file("a/../../escaped", b"x")],
        "symlink then write": [symlink("a", str(outside)), file("a/escaped", b"x")],
        "relative symlink then write": [directory("d"), symlink("d/up", "../../../../../../../../.."),
                                        file(f"d/up{outside}/escaped", b"x")],
        "symlink then directory": [symlink("a", str(outside)), directory("a/sub"), file("a/sub/escaped")],
        "hard link out": [hardlink("passwd", "../../etc/passwd")],
        "hard link through symlink": [symlink("etc", "/etc"), hardlink("passwd", "etc/passwd")],
        "hard link to a missing file": [hardlink("passwd", "etc/passwd")],
        "whiteout of dot-dot": [directory("a"), file("a/.wh..."), file("escaped")],
    }


@pytest.mark.parametrize("case", list(_hostile_cases(Path("/tmp/x"))))
def test_hostile_layers_are_refused(tmp_path: Path, outside: Path, case: str) -> None:
    store = ImageStore(tmp_path / "images")
    before_etc = os.lstat("/etc/passwd")
    layer = _store_layer(store, _hostile_cases(outside)[case])
    with pytest.raises(ImageError) as caught:
        store.add_image([layer], ImageConfig(), f"hostile-{case.replace(' ', '-')}")
    if case not in ("hard link to a missing file", "whiteout of dot-dot"):
        assert isinstance(caught.value, HostileLayer)
    assert os.listdir(outside) == []
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "images" / "escaped").exists()
    assert not Path("/escaped").exists()
    assert os.lstat("/etc/passwd").st_nlink == before_etc.st_nlink
    assert os.listdir(store.layers) == []  # neither the layer nor its temporary directory stays
    assert store.list() == []


def test_absolute_names_land_inside_the_layer(target: Path) -> None:
    _unpack([directory("/etc"), file("/etc/hostname", b"inside"), symlink("/bin", "usr/bin"),
             file("./usr/bin/tool", b"t")], target)
    assert (target / "etc/hostname").read_bytes() == b"inside"
    assert os.readlink(target / "bin") == "usr/bin"


def test_garbage_is_a_typed_error(target: Path) -> None:
    with pytest.raises(ImageError, match="not a valid tar"):
        unpack_layer(io.BytesIO(b"\x00garbage" * 200), str(target))


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd command to make a test layer")
def test_zstd_layers(target: Path, tmp_path: Path) -> None:
    import subprocess
    plain = tmp_path / "layer.tar"
    plain.write_bytes(layer_bytes([file("hello", b"zstd")]))
    subprocess.run(["zstd", "-q", str(plain), "-o", str(tmp_path / "layer.tar.zst")], check=True)
    with open(tmp_path / "layer.tar.zst", "rb") as compressed:
        try:
            import zstandard  # noqa: F401
        except ImportError:
            with pytest.raises(ImageError, match="zstandard"):
                unpack_layer(compressed, str(target))
            return
        unpack_layer(compressed, str(target))
    assert (target / "hello").read_bytes() == b"zstd"
