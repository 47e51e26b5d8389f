"""Reading an archive the same way whether it is a directory (an OCI layout) or a tarball."""

from __future__ import annotations

import posixpath
import tarfile
from pathlib import Path
from typing import IO, Protocol

from runtime.image.archive.errors import ArchiveError


class ArchiveSource(Protocol):
    def exists(self, name: str) -> bool: ...
    def open(self, name: str) -> IO[bytes]: ...
    def close(self) -> None: ...


def _clean(name: str) -> str:
    """Names inside an archive are relative and may not climb out (``../``) or be absolute."""
    normal = posixpath.normpath(name.lstrip("/")) if name else ""
    if not normal or normal.startswith("..") or normal == ".":
        raise ArchiveError(f"archive entry {name!r} is not a plain relative path")
    return normal


class DirectorySource:
    def __init__(self, root: Path) -> None:
        self.root = root

    def close(self) -> None:
        """Nothing is held open between reads."""

    def exists(self, name: str) -> bool:
        return (self.root / _clean(name)).is_file()

    def open(self, name: str) -> IO[bytes]:
        path = self.root / _clean(name)
        if path.is_symlink():
            raise ArchiveError(f"{path} is a symlink; layouts hold plain files")
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise ArchiveError(f"{path} is missing from the layout") from None


class TarSource:
    """Random access into a tarball (plain or compressed); members are found by normalised name."""

    def __init__(self, path: Path) -> None:
        try:
            self._tar = tarfile.open(path, mode="r:*")
        except (tarfile.TarError, OSError) as exc:
            raise ArchiveError(f"{path} is not a tar archive or an OCI layout directory: {exc}") from exc
        self.path = path
        self._members: dict[str, tarfile.TarInfo] = {}
        for member in self._tar.getmembers():
            if member.isreg():
                self._members[posixpath.normpath(member.name.lstrip("/"))] = member

    def exists(self, name: str) -> bool:
        return _clean(name) in self._members

    def open(self, name: str) -> IO[bytes]:
        member = self._members.get(_clean(name))
        if member is None:
            raise ArchiveError(f"{self.path} has no file {name!r}")
        f = self._tar.extractfile(member)
        if f is None:
            raise ArchiveError(f"{self.path}: {name!r} is not a regular file")
        return f

    def close(self) -> None:
        self._tar.close()


def open_source(path: Path) -> DirectorySource | TarSource:
    if path.is_dir():
        return DirectorySource(path)
    if not path.exists():
        raise ArchiveError(f"{path} does not exist")
    return TarSource(path)
