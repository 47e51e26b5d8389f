"""The upper directory of a finished RUN container, as an OCI layer tarball.

overlayfs records a deletion as a 0:0 character device and a replaced directory with the
``trusted.overlay.opaque=y`` xattr; OCI layers spell those ``.wh.<name>`` and ``.wh..wh..opq``.
``trusted.overlay.*`` attributes are overlay bookkeeping and are dropped. Mount points the runtime
made for the container (``/proc``, ``/sys``, ``/dev``, ``/etc/hosts``, ``/etc/hostname``,
``/etc/resolv.conf``) are left out when the image did not have them, as Docker leaves them out of
its build layers.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path
from typing import IO

from runtime.image.build.view import LayerView
from runtime.image.errors import ImageError
from runtime.image.unpack import OPAQUE, WHITEOUT_PREFIX

RUNTIME_MOUNT_POINTS = frozenset({"proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf"})
_XATTR_PREFIX = "SCHILY.xattr."


Change = tuple[str, "Path | None"]  # (name in the layer, host path); None: a whiteout or opaque marker


def collect_changes(upper: Path, below: LayerView, mount_points: frozenset[str] = frozenset()) -> list[Change]:
    """What a step changed, in layer order; [] when it changed nothing.

    ``mount_points`` (absolute in-image paths of the step's ``--mount`` targets) are left out like
    the runtime's own, with the directories made only to hold them.
    """
    points = RUNTIME_MOUNT_POINTS | {p.strip("/") for p in mount_points}
    try:
        return _collect(upper, "", below, points)
    except OSError as exc:
        raise ImageError(f"cannot read the changes of a build step in {upper}: {exc}") from exc


def write_diff(changes: list[Change], out: IO[bytes]) -> None:
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for arcname, path in changes:
                _add(tar, arcname, path)
    except OSError as exc:
        raise ImageError(f"cannot read the changes of a build step: {exc}") from exc


def _collect(root: Path, relative: str, below: LayerView, points: frozenset[str]) -> list[tuple[str, Path | None]]:
    """(name in the layer, host path) depth first in name order; a None path is a whiteout.

    A directory that overlayfs only copied up to hold a mount point or an unchanged child, and that
    the image already has with the same owner and mode, is left out; so is one the runtime made
    only as the parent of a mount point.
    """
    entries: list[tuple[str, Path | None]] = []
    for name in sorted(os.listdir(root / relative) if relative else os.listdir(root)):
        arcname = f"{relative}/{name}" if relative else name
        path = root / arcname
        st = os.lstat(path)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            entries.append((f"{relative}/{WHITEOUT_PREFIX}{name}" if relative else WHITEOUT_PREFIX + name, None))
            continue
        if arcname in points and _empty(path, st) and below.lstat("/" + arcname) is None:
            continue
        if not stat.S_ISDIR(st.st_mode):
            entries.append((arcname, path))
            continue
        children = _collect(root, arcname, below, points)
        opaque = _opaque(path)
        old = below.lstat("/" + arcname)
        holder = old is None and any(p.startswith(arcname + "/") for p in points)
        if not children and not opaque and (_same_directory(st, old) or holder):
            continue
        entries.append((arcname, path))
        if opaque:
            entries.append((f"{arcname}/{OPAQUE}", None))
        entries += children
    return entries


def _same_directory(st: os.stat_result, old: os.stat_result | None) -> bool:
    return (old is not None and stat.S_ISDIR(old.st_mode) and old.st_mode == st.st_mode
            and (old.st_uid, old.st_gid) == (st.st_uid, st.st_gid))


def _add(tar: tarfile.TarFile, arcname: str, path: Path | None) -> None:
    if path is None:  # a whiteout or an opaque marker: an empty file with the special name
        tar.addfile(tarfile.TarInfo(arcname))
        return
    info = tar.gettarinfo(str(path), arcname=arcname)
    if info is None:  # a socket: a tar cannot hold it
        return
    info.uname = info.gname = ""
    info.pax_headers = _xattrs(path)
    if info.isreg():
        with open(path, "rb") as content:
            tar.addfile(info, content)
    else:
        tar.addfile(info)


def _empty(path: Path, st: os.stat_result) -> bool:
    if stat.S_ISDIR(st.st_mode):
        return not os.listdir(path)
    return stat.S_ISREG(st.st_mode) and st.st_size == 0


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _xattrs(path: Path) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    headers = {}
    for name in names:
        if name.startswith("trusted.overlay."):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        headers[_XATTR_PREFIX + name] = value.decode("utf-8", "surrogateescape")
    return headers
