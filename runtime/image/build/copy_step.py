"""COPY and ADD: which files go where, their cache key, and the layer they make.

Docker's destination rules: a destination ending in '/' (or an existing directory in the image,
or '.') is a directory and each source lands inside it under its own name; several sources need
such a directory; a directory source has its contents copied. A relative destination is relative
to WORKDIR. Symlinks along the destination are followed inside the image, and the parents that
already exist are written into the layer with their own owner and mode (so COPY into /tmp keeps
/tmp 1777). ADD also unpacks local tar archives (plain, gzip, bzip2, xz) into the destination.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from runtime.image.build.errors import BuildError
from runtime.image.build.sources import Ownership, SourceTree, copy_into, match_sources
from runtime.image.build.view import LayerView
from runtime.image.unpack import unpack_layer

URL_PREFIXES = ("http://", "https://", "git@", "git://", "ssh://")


@dataclass(frozen=True)
class CopyPlan:
    sources: list[str]       # canonical paths in the source tree
    destination: str         # canonical absolute path in the image
    into_directory: bool     # each source goes inside ``destination``
    extract: bool            # ADD: unpack tar archives


def plan_copy(tree: SourceTree, patterns: list[str], dest: str, workdir: str, view: LayerView, keyword: str,
              ) -> CopyPlan:
    sources: list[str] = []
    for pattern in patterns:
        for found in match_sources(tree, pattern, f"{keyword} source"):
            if found not in sources:
                sources.append(found)
    absolute = posixpath.join(workdir or "/", dest)
    as_dir = dest.endswith("/") or dest in (".", "./") or absolute.endswith("/.")
    if len(sources) > 1 and not as_dir:
        raise BuildError(f"{keyword} with more than one source file needs a destination directory ending in '/'")
    canonical = view.resolve(absolute)
    existing = view.lstat(canonical)
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        as_dir = True
    return CopyPlan(sources, canonical, as_dir, keyword == "ADD")


def fill_staging(plan: CopyPlan, tree: SourceTree, view: LayerView, staging: Path, owner: Ownership) -> None:
    """Write the copied files (and the parents they need) into the empty directory ``staging``."""
    for source in plan.sources:
        host = tree.entry(source)
        if host is None:
            continue
        is_dir = host.is_dir() and not host.is_symlink()
        if plan.extract and not is_dir and _is_archive(host):
            target = _directory(view, staging, plan.destination)
            with open(host, "rb") as archive:
                unpack_layer(archive, str(target))
            continue
        if is_dir:
            parent = _directory(view, staging, posixpath.dirname(plan.destination) or "/")
            target = parent / posixpath.basename(plan.destination) if plan.destination != "/" else staging
            if plan.destination != "/":
                _mirror(view, plan.destination, target)
        else:
            if plan.into_directory:
                target = _directory(view, staging, plan.destination) / posixpath.basename(source)
            else:
                target = _directory(view, staging, posixpath.dirname(plan.destination) or "/") / posixpath.basename(
                    plan.destination)
        copy_into(tree, source, target, owner)


def _directory(view: LayerView, staging: Path, path: str) -> Path:
    """``path`` in the staging tree, each level created with the image's metadata when it has that directory."""
    host = staging
    current = ""
    for part in [p for p in path.split("/") if p]:
        current += "/" + part
        host = host / part
        _mirror(view, current, host)
    return host


def _mirror(view: LayerView, path: str, host: Path) -> None:
    if host.is_dir():
        return
    st = view.lstat(path)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise BuildError(f"cannot copy to {path}: it is not a directory in the image")
    host.mkdir()
    if st is None:
        os.chmod(host, 0o755)
        return
    os.chown(host, st.st_uid, st.st_gid)
    os.chmod(host, stat.S_IMODE(st.st_mode))
    os.utime(host, (st.st_mtime, st.st_mtime))


def _is_archive(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False
