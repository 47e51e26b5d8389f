"""Unpacking a layer tarball into a directory overlayfs can stack, safely and exactly.

Safety: every path is resolved component by component with O_NOFOLLOW relative to the layer
root, so no entry can write through a symlink, climb out with "..", or hard-link a file from
outside. Such entries are refused (`HostileLayer`) and the partial directory is removed by the
caller. Exactness: modes, owners, mtimes, xattrs (pax SCHILY.xattr.*), hard links, devices, fifos.
OCI whiteouts become overlayfs whiteouts: `.wh.name` → a 0:0 character device `name`,
`.wh..wh..opq` → the `trusted.overlay.opaque=y` xattr on its directory.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import shutil
import stat
from typing import IO, TYPE_CHECKING, Any, cast

from runtime.image.errors import HostileLayer, ImageError

if TYPE_CHECKING:
    import tarfile

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _decompressed(fileobj: IO[bytes]) -> IO[bytes]:
    """Wrap a zstd stream in a decompressor; tarfile itself handles plain, gzip, bzip2 and xz."""
    buffered: Any = fileobj if isinstance(fileobj, io.BufferedReader) else io.BufferedReader(fileobj)  # type: ignore[type-var]
    if buffered.peek(4)[:4] != _ZSTD_MAGIC:
        return cast(IO[bytes], buffered)  # peek consumed from the raw file: read on through the buffer
    try:
        zstandard: Any = importlib.import_module("zstandard")
    except ImportError:
        raise ImageError("layer is zstd-compressed and the Python module 'zstandard' is not installed") from None
    reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(buffered)
    return reader


def _parts(name: str, what: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise HostileLayer(f"layer entry {what!r} climbs out of the layer with '..'")
    return parts


class _Tree:
    """Directory fds of one layer root, opened without following symlinks."""

    def __init__(self, root: str) -> None:
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        self._cache: dict[tuple[str, ...], int] = {(): self.root_fd}

    def close(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()

    def directory(self, parts: list[str], create: bool, entry: str) -> int:
        key: tuple[str, ...] = ()
        fd = self.root_fd
        for part in parts:
            key = (*key, part)
            cached = self._cache.get(key)
            if cached is not None:
                fd = cached
                continue
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, 0o755, dir_fd=fd)
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise HostileLayer(f"layer entry {entry!r} goes through a symlink or file at "
                                       f"{'/'.join(key)!r}") from exc
                raise
            self._cache[key] = child
            fd = child
        return fd

    def forget(self, parts: list[str]) -> None:
        """Drop cached fds at or below ``parts`` (the entry was replaced)."""
        prefix = tuple(parts)
        for key in [k for k in self._cache if k[: len(prefix)] == prefix and k]:
            os.close(self._cache.pop(key))


def _remove(name: str, parent_fd: int, keep_dir: bool) -> None:
    try:
        st = os.lstat(name, dir_fd=parent_fd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            return
        shutil.rmtree(f"/proc/self/fd/{parent_fd}/{name}")
    else:
        os.unlink(name, dir_fd=parent_fd)


def unpack_layer(fileobj: IO[bytes], root: str) -> None:
    """Extract a (possibly gzip-compressed) layer tar stream into the existing directory ``root``."""
    import tarfile  # here: the engine holds tarfile in memory only once a layer is unpacked

    tree = _Tree(root)
    directories: list[tuple[list[str], tarfile.TarInfo]] = []
    try:
        with tarfile.open(fileobj=_decompressed(fileobj), mode="r|*") as archive:
            for member in archive:
                try:
                    _extract(archive, member, tree, directories)
                except OSError as exc:
                    raise ImageError(f"cannot unpack layer entry {member.name!r}: {exc.strerror or exc}") from exc
        for parts, member in reversed(directories):  # directory times last: children change them
            _set_directory_time(tree, parts, member)
    except tarfile.TarError as exc:
        raise ImageError(f"layer is not a valid tar archive: {exc}") from exc
    finally:
        tree.close()


def _set_directory_time(tree: _Tree, parts: list[str], member: tarfile.TarInfo) -> None:
    """Restore a directory's mtime unless a later entry replaced the directory."""
    try:
        parent = tree.directory(parts[:-1], False, member.name)
        if stat.S_ISDIR(os.lstat(parts[-1], dir_fd=parent).st_mode):
            os.utime(parts[-1], (member.mtime, member.mtime), dir_fd=parent, follow_symlinks=False)
    except (FileNotFoundError, HostileLayer):
        pass


def _extract(archive: tarfile.TarFile, m: tarfile.TarInfo, tree: _Tree,
             directories: list[tuple[list[str], tarfile.TarInfo]]) -> None:
    parts = _parts(m.name, m.name)
    if not parts:
        return  # the root itself ("./")
    name = parts[-1]
    parent = tree.directory(parts[:-1], True, m.name)
    if name == OPAQUE:
        os.setxattr(f"/proc/self/fd/{parent}", "trusted.overlay.opaque", b"y")
        return
    if name.startswith(WHITEOUT_PREFIX):
        hidden = name[len(WHITEOUT_PREFIX):]
        if _parts(hidden, m.name) != [hidden]:
            raise ImageError(f"layer entry {m.name!r} is a whiteout without a name")
        _remove(hidden, parent, keep_dir=False)
        tree.forget([*parts[:-1], hidden])
        os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
        return
    _remove(name, parent, keep_dir=m.isdir())
    if not m.isdir():
        tree.forget(parts)
    if m.isdir():
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
        directories.append((parts, m))
    elif m.isreg():
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=parent)
        with os.fdopen(fd, "wb") as out:
            source = archive.extractfile(m)
            if source is not None:
                shutil.copyfileobj(source, out, 1 << 20)
    elif m.issym():
        os.symlink(m.linkname, name, dir_fd=parent)
    elif m.islnk():
        target = _parts(m.linkname, m.name)
        if not target:
            raise HostileLayer(f"hard link {m.name!r} points at the layer root")
        target_parent = tree.directory(target[:-1], False, m.name)
        try:
            os.link(target[-1], name, src_dir_fd=target_parent, dst_dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError as exc:
            raise HostileLayer(f"hard link {m.name!r} → {m.linkname!r}: target is not in the layer") from exc
        except PermissionError as exc:  # EPERM: the target is a directory
            raise HostileLayer(f"hard link {m.name!r} → {m.linkname!r}: target is a directory") from exc
        return  # a hard link shares the target's metadata
    elif m.ischr() or m.isblk():
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
        os.mknod(name, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=parent)
    elif m.isfifo():
        os.mkfifo(name, 0o600, dir_fd=parent)
    else:
        return
    os.chown(name, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
    if not m.issym():
        os.chmod(f"/proc/self/fd/{parent}/{name}", stat.S_IMODE(m.mode))
    for key, value in (m.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(f"/proc/self/fd/{parent}/{name}", key[len("SCHILY.xattr."):],
                            value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except OSError:
                pass  # the filesystem refuses this namespace: keep the file, lose the attribute
    if not m.isdir():
        os.utime(name, (m.mtime, m.mtime), dir_fd=parent, follow_symlinks=False)
