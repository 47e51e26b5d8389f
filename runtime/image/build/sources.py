"""Where COPY/ADD read from (the build context or another stage's files) and how they write a layer.

Two source trees share one interface: `ContextTree` (a host directory minus `.dockerignore`d paths;
nothing outside the context is reachable) and `ImageTree` (a `LayerView` of a stage or image).
`fingerprint` hashes what would be copied — names, types, modes, owners, link targets, contents,
not times — which is the cache key of a COPY, as Docker's classic builder keys on a content hash.
`copy_into` writes the files into a staging directory that becomes the layer.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runtime.image.build.dockerignore import DockerIgnore
from runtime.image.build.errors import BuildError
from runtime.image.build.view import LayerView

_GLOB_CHARS = frozenset("*?[")


class SourceTree(Protocol):
    def entry(self, path: str) -> Path | None:
        """Host path of ``path`` (tree-relative, '/'-separated, canonical) or None if absent or hidden."""
        ...

    def listdir(self, path: str) -> list[str]: ...

    def canonical(self, path: str) -> str:
        """``path`` with symlinks in it followed inside the tree."""
        ...

    def keeps_owner(self) -> bool: ...


class ContextTree:
    def __init__(self, root: Path, ignore: DockerIgnore) -> None:
        self.root = root.resolve()
        self.ignore = ignore

    def entry(self, path: str) -> Path | None:
        if path and self.ignore.ignored(path):
            return None
        host = self.root / path if path else self.root
        return host if os.path.lexists(host) else None

    def listdir(self, path: str) -> list[str]:
        host = self.root / path if path else self.root
        names = sorted(os.listdir(host))
        return [n for n in names if not self.ignore.ignored(f"{path}/{n}" if path else n)
                or (self.ignore.has_exceptions and (host / n).is_dir() and not (host / n).is_symlink())]

    def canonical(self, path: str) -> str:
        host = (self.root / path).resolve() if path else self.root
        try:
            return host.relative_to(self.root).as_posix().removeprefix(".")
        except ValueError:
            raise BuildError(f"{path} points outside the build context") from None

    def keeps_owner(self) -> bool:
        return False


class ImageTree:
    def __init__(self, view: LayerView) -> None:
        self.view = view

    def entry(self, path: str) -> Path | None:
        return self.view.find("/" + path)

    def listdir(self, path: str) -> list[str]:
        return list(self.view.listdir("/" + path))

    def canonical(self, path: str) -> str:
        return self.view.resolve("/" + path).lstrip("/")

    def keeps_owner(self) -> bool:
        return True


def clean(path: str, what: str) -> str:
    """A source path inside its tree: leading '/' and './' dropped; '..' may not climb out."""
    normal = posixpath.normpath(path.lstrip("/") or ".")
    if normal == ".." or normal.startswith("../"):
        raise BuildError(f"{what} {path!r} is outside the build context")
    return "" if normal == "." else normal


def match_sources(tree: SourceTree, pattern: str, what: str) -> list[str]:
    """Paths in ``tree`` matching ``pattern`` (globs per path component, like filepath.Match)."""
    cleaned = clean(pattern, what)
    parts = cleaned.split("/") if cleaned else []
    if not any(_GLOB_CHARS & set(p) for p in parts):
        resolved = tree.canonical(cleaned)
        if tree.entry(resolved) is None:
            raise BuildError(f"{what} {pattern!r} not found")
        return [resolved]
    found = [""]
    for part in parts:
        nxt: list[str] = []
        for base in found:
            host = tree.entry(base)
            if host is None or not host.is_dir():
                continue
            if _GLOB_CHARS & set(part):
                nxt += [f"{base}/{n}" if base else n for n in tree.listdir(base) if fnmatch.fnmatchcase(n, part)]
            elif tree.entry(f"{base}/{part}" if base else part) is not None:
                nxt.append(f"{base}/{part}" if base else part)
        found = nxt
    found = [f for f in found if tree.entry(f) is not None]
    if not found:
        raise BuildError(f"{what} {pattern!r}: no files match")
    return sorted(found)


@dataclass(frozen=True)
class Ownership:
    uid: int | None = None   # None: 0 for the context, the source's own for --from
    gid: int | None = None
    mode: int | None = None  # --chmod


def fingerprint(tree: SourceTree, sources: list[str], owner: Ownership) -> str:
    digest = hashlib.sha256()
    for source in sources:
        digest.update(f"\0source {source}\n".encode())
        _hash_entry(tree, source, "", digest, owner)
    return digest.hexdigest()


def _hash_entry(tree: SourceTree, path: str, rel: str, digest: hashlib._Hash, owner: Ownership) -> None:
    host = tree.entry(path)
    if host is None:
        return
    st = os.lstat(host)
    uid, gid, mode = _meta(tree, st, owner)
    digest.update(f"{rel}\0{stat.S_IFMT(st.st_mode)}\0{mode:o}\0{uid}:{gid}\0".encode())
    if stat.S_ISLNK(st.st_mode):
        digest.update(os.readlink(host).encode(errors="surrogateescape"))
    elif stat.S_ISREG(st.st_mode):
        with open(host, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    elif stat.S_ISDIR(st.st_mode):
        for name in tree.listdir(path):
            _hash_entry(tree, f"{path}/{name}" if path else name, f"{rel}/{name}", digest, owner)
    digest.update(b"\n")


def _meta(tree: SourceTree, st: os.stat_result, owner: Ownership) -> tuple[int, int, int]:
    keep = tree.keeps_owner()
    uid = owner.uid if owner.uid is not None else (st.st_uid if keep else 0)
    gid = owner.gid if owner.gid is not None else (st.st_gid if keep else 0)
    mode = owner.mode if owner.mode is not None and not stat.S_ISLNK(st.st_mode) else stat.S_IMODE(st.st_mode)
    return uid, gid, mode


def copy_into(tree: SourceTree, path: str, target: Path, owner: Ownership) -> None:
    """Copy ``path`` of ``tree`` to the host path ``target`` (a directory's contents go into ``target``)."""
    host = tree.entry(path)
    if host is None:
        return
    st = os.lstat(host)
    if stat.S_ISDIR(st.st_mode):
        if not target.is_dir():
            target.mkdir()
            _apply(target, st, tree, owner)
        for name in tree.listdir(path):
            copy_into(tree, f"{path}/{name}" if path else name, target / name, owner)
        os.utime(target, (st.st_mtime, st.st_mtime), follow_symlinks=False)
        return
    if os.path.lexists(target) and not target.is_dir():
        target.unlink()
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(host), target)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(host, target, follow_symlinks=False)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        os.mknod(target, stat.S_IFMT(st.st_mode) | 0o600, st.st_rdev)
    elif stat.S_ISFIFO(st.st_mode):
        os.mkfifo(target, 0o600)
    else:
        return  # sockets
    _apply(target, st, tree, owner)
    os.utime(target, (st.st_mtime, st.st_mtime), follow_symlinks=False)


def _apply(target: Path, st: os.stat_result, tree: SourceTree, owner: Ownership) -> None:
    uid, gid, mode = _meta(tree, st, owner)
    os.chown(target, uid, gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(target, mode)
