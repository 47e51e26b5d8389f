"""COPY and ADD: which files go where, their cache key, and the layer they make.

Docker's destination rules: a destination ending in '/' (or an existing directory in the image,
or '.') is a directory and each source lands inside it under its own name; several sources need
such a directory; a directory source has its contents copied. A relative destination is relative
to WORKDIR. Symlinks along the destination are followed inside the image, and the parents that
already exist are written into the layer with their own owner and mode (so COPY into /tmp keeps
/tmp 1777). ADD also unpacks local tar archives (plain, gzip, bzip2, xz) into the destination.

BuildKit's additions:
- ``--parents``: each source keeps its path below the destination (from the context root, or from
  a ``/./`` in the source: ``COPY --parents src/./app/main.py /opt/`` makes ``/opt/app/main.py``);
- ``--exclude=PATTERN`` (repeatable, .dockerignore syntax): paths left out, matched relative to a
  directory source (its contents) or to the directory a file source is in (its name);
- ``--link``: the layer does not depend on what is below it: the destination is not looked up in
  the image (no symlinks followed, new parents 0755 root), so the layer is the same, and reused
  from the cache, whatever the earlier steps made.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from runtime.image.build.dockerignore import DockerIgnore
from runtime.image.build.errors import BuildError
from runtime.image.build.sources import Ownership, SourceTree, clean, copy_into, fingerprint, match_sources
from runtime.image.build.view import LayerView
from runtime.image.unpack import unpack_layer

URL_PREFIXES = ("http://", "https://")
GIT_PREFIXES = ("git@", "git://", "ssh://")
PIVOT = "/./"


@dataclass(frozen=True)
class CopyPlan:
    sources: list[str]                  # canonical paths in the source tree
    destination: str                    # canonical absolute path in the image
    into_directory: bool                # each source goes inside ``destination``
    extract: bool                       # ADD: unpack tar archives
    below: dict[str, str]               # --parents: source -> its path below the destination
    excludes: tuple[str, ...] = ()

    def tree_for(self, tree: SourceTree, source: str) -> SourceTree:
        """The tree a source is read from, with the ``--exclude`` patterns applied to it."""
        if not self.excludes:
            return tree
        host = tree.entry(source)
        base = source if host is not None and host.is_dir() and not host.is_symlink() else posixpath.dirname(source)
        return ExcludingTree(tree, DockerIgnore(list(self.excludes)), base)

    def fingerprint(self, tree: SourceTree, owner: Ownership) -> str:
        if not self.excludes:
            return fingerprint(tree, self.sources, owner)
        return "|".join(fingerprint(self.tree_for(tree, s), [s], owner) for s in self.sources)


class ExcludingTree:
    """A source tree with the paths an ``--exclude`` pattern matches hidden, relative to ``base``."""

    def __init__(self, tree: SourceTree, ignore: DockerIgnore, base: str) -> None:
        self.tree, self.ignore, self.base = tree, ignore, base

    def _hidden(self, path: str) -> bool:
        relative = posixpath.relpath(path, self.base) if self.base else path
        return relative not in ("", ".") and not relative.startswith("../") and self.ignore.ignored(relative)

    def entry(self, path: str) -> Path | None:
        return None if self._hidden(path) else self.tree.entry(path)

    def listdir(self, path: str) -> list[str]:
        return [n for n in self.tree.listdir(path) if not self._hidden(f"{path}/{n}" if path else n)]

    def canonical(self, path: str) -> str:
        return self.tree.canonical(path)

    def keeps_owner(self) -> bool:
        return self.tree.keeps_owner()


def plan_copy(tree: SourceTree, patterns: list[str], dest: str, workdir: str, view: LayerView, keyword: str,
              parents: bool = False, excludes: tuple[str, ...] = ()) -> CopyPlan:
    sources: list[str] = []
    below: dict[str, str] = {}
    plain = CopyPlan([], "", False, False, {}, excludes)
    for pattern in patterns:
        pivot = pattern.split(PIVOT, 1)[0] if parents and PIVOT in pattern else None
        for found in match_sources(tree, pattern, f"{keyword} source"):
            if excludes and plain.tree_for(tree, found).entry(found) is None:
                continue
            if found not in sources:
                sources.append(found)
                if parents:
                    start = clean(pivot, f"{keyword} source") if pivot is not None else ""
                    below[found] = posixpath.relpath(found, start) if start else found
    if excludes and not sources:
        raise BuildError(f"{keyword}: every source is excluded")
    absolute = posixpath.join(workdir or "/", dest)
    as_dir = dest.endswith("/") or dest in (".", "./") or absolute.endswith("/.") or parents
    if len(sources) > 1 and not as_dir:
        raise BuildError(f"{keyword} with more than one source file needs a destination directory ending in '/'")
    canonical = view.resolve(absolute)
    existing = view.lstat(canonical)
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        as_dir = True
    return CopyPlan(sources, canonical, as_dir, keyword == "ADD", below, excludes)


def fill_staging(plan: CopyPlan, tree: SourceTree, view: LayerView, staging: Path, owner: Ownership) -> None:
    """Write the copied files (and the parents they need) into the empty directory ``staging``."""
    for source in plan.sources:
        source_tree = plan.tree_for(tree, source)
        host = source_tree.entry(source)
        if host is None:
            continue
        is_dir = host.is_dir() and not host.is_symlink()
        if plan.extract and not is_dir and _is_archive(host):
            target = _directory(view, staging, plan.destination)
            with open(host, "rb") as archive:
                unpack_layer(archive, str(target))
            continue
        if source in plan.below:
            inside = posixpath.join(plan.destination, plan.below[source])
            parent = _directory(view, staging, posixpath.dirname(inside))
            target = parent / posixpath.basename(inside)
            if is_dir:
                _mirror(view, inside, target)
        elif is_dir:
            parent = _directory(view, staging, posixpath.dirname(plan.destination) or "/")
            target = parent / posixpath.basename(plan.destination) if plan.destination != "/" else staging
            if plan.destination != "/":
                _mirror(view, plan.destination, target)
        elif plan.into_directory:
            target = _directory(view, staging, plan.destination) / posixpath.basename(source)
        else:
            target = _directory(view, staging, posixpath.dirname(plan.destination) or "/") / posixpath.basename(
                plan.destination)
        copy_into(source_tree, source, target, owner)


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
