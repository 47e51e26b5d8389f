"""Building layer tarballs entry by entry, hostile ones included, for the unpacking tests."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    name: str
    kind: bytes = tarfile.REGTYPE
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_600_000_000
    major: int = 0
    minor: int = 0
    xattrs: dict[str, str] = field(default_factory=dict)


def directory(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: int = 1_600_000_000) -> Entry:
    return Entry(name, tarfile.DIRTYPE, mode=mode, uid=uid, gid=gid, mtime=mtime)


def file(name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
         mtime: int = 1_600_000_000) -> Entry:
    return Entry(name, data=data, mode=mode, uid=uid, gid=gid, mtime=mtime)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, tarfile.SYMTYPE, link=target, mode=0o777)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, tarfile.LNKTYPE, link=target)


_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "": lambda data: data, "gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress,
}


def layer_bytes(entries: list[Entry], compression: str = "") -> bytes:
    """A PAX tar of ``entries`` in order, compressed with ``compression`` ("", "gz", "xz" or "bz2")."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = e.kind
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, e.mtime
            info.linkname = e.link
            info.devmajor, info.devminor = e.major, e.minor
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in e.xattrs.items()}
            info.size = len(e.data) if e.kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(e.data) if e.kind == tarfile.REGTYPE else None)
    return _COMPRESSORS[compression](out.getvalue())


@contextmanager
def overlay_view(lower_top_first: list[Path], mountpoint: Path) -> Iterator[Path]:
    """A read-only overlay of the layers, unmounted even when the test fails."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    lowers = ":".join(str(p) for p in lower_top_first)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lowers}", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
