"""Writing one uncompressed layer tarball from a root filesystem (a directory or another tarball).

The output is PAX tar, the format OCI layers use: entries in sorted order, names relative to the
root (``bin/sh``, not ``./bin/sh``), symlinks stored as links, hard links as links to the first
name, devices and fifos kept, sockets skipped (a tar cannot hold them), and extended attributes
(``security.capability`` on ping, for instance) as ``SCHILY.xattr.*`` records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING

from runtime.image.errors import ImageError

if TYPE_CHECKING:
    import tarfile

_XATTR_PREFIX = "SCHILY.xattr."


def write_layer(source: Path, out: IO[bytes]) -> None:
    """Write ``source`` (a directory, or a tarball in any format tarfile reads) as a PAX layer to ``out``."""
    import tarfile  # here: the engine holds tarfile in memory only once a layer is written

    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as layer:
            if source.is_dir():
                _add_tree(layer, source)
            else:
                _copy_tarball(layer, source)
    except tarfile.TarError as exc:
        raise ImageError(f"cannot read {source} as a tar archive: {exc}") from exc
    except OSError as exc:
        raise ImageError(f"cannot import {source}: {exc}") from exc


def _add_tree(layer: tarfile.TarFile, root: Path, relative: str = "") -> None:
    """Depth first in name order, as Docker walks a tree: the same tree always gives the same bytes."""
    for name in sorted(os.listdir(root / relative) if relative else os.listdir(root)):
        arcname = f"{relative}/{name}" if relative else name
        path = root / arcname
        info = layer.gettarinfo(str(path), arcname=arcname)
        if info is None:  # a socket
            continue
        info.uname = info.gname = ""  # the host's user names mean nothing inside an image
        info.pax_headers = _xattrs(path)
        if info.isreg():
            with open(path, "rb") as content:
                layer.addfile(info, content)
        else:
            layer.addfile(info)
        if info.isdir():
            _add_tree(layer, root, arcname)


def _xattrs(path: Path) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    headers = {}
    for name in names:
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        headers[_XATTR_PREFIX + name] = value.decode("utf-8", "surrogateescape")
    return headers


def _copy_tarball(layer: tarfile.TarFile, source: Path) -> None:
    import tarfile

    with tarfile.open(source, mode="r|*") as tarball:
        for member in tarball:
            if not (member.isreg() or member.isdir() or member.issym() or member.islnk()
                    or member.ischr() or member.isblk() or member.isfifo()):
                continue
            content = tarball.extractfile(member) if member.isreg() else None
            layer.addfile(member, content)
