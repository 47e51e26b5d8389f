"""Filling an empty volume with the image's content at its mount path, as Docker does.

moby's rule (`container.copyExistingContents`): when a volume is mounted where the image has a
directory and the volume is empty, the directory's content is copied into it, and the volume's
root takes that directory's owner and mode (so a database's data directory keeps its owner).
`nocopy` turns it off. It runs in stage 2, before pivot_root, with the image's tree under the
container's root filesystem, each time a container using the volume starts and finds it empty.

Everything is done relative to directory file descriptors opened with O_NOFOLLOW and created
with O_EXCL, so neither a symlink in the image nor one another container makes in a shared
volume meanwhile can send a write outside the volume. Regular files, directories, symlinks,
devices and fifos are copied with owners, modes and mtimes; hard links become separate files and
extended attributes are not copied. Standard library only: this runs in the shim's children.
"""

from __future__ import annotations

import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_image_dir(path: str) -> int:
    """The image's directory at a mount target, opened before anything is mounted over it; -1 if
    the image has no directory there."""
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError:
        return -1


def fill_volume(image_dir: int, volume_path: str) -> None:
    """Copy the image's directory (an fd from `open_image_dir`, closed here) into the volume at
    ``volume_path`` if the volume is empty; nothing happens for -1."""
    if image_dir < 0:
        return
    try:
        volume = os.open(volume_path, _DIR_FLAGS)
        try:
            if os.listdir(volume):
                return
            info = os.fstat(image_dir)
            _copy_children(image_dir, volume)
            os.fchown(volume, info.st_uid, info.st_gid)
            os.fchmod(volume, stat.S_IMODE(info.st_mode))
            os.utime(volume, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(volume)
    finally:
        os.close(image_dir)


def _copy_children(source: int, dest: int) -> None:
    for name in sorted(os.listdir(source)):
        info = os.lstat(name, dir_fd=source)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dest)
            child_source = os.open(name, _DIR_FLAGS, dir_fd=source)
            child_dest = os.open(name, _DIR_FLAGS, dir_fd=dest)
            try:
                _copy_children(child_source, child_dest)
                _set_metadata(child_dest, info)
            finally:
                os.close(child_source)
                os.close(child_dest)
        elif stat.S_ISREG(mode):
            _copy_file(source, dest, name, info)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=source), name, dir_fd=dest)
            os.chown(name, info.st_uid, info.st_gid, dir_fd=dest, follow_symlinks=False)
            os.utime(name, ns=(info.st_atime_ns, info.st_mtime_ns), dir_fd=dest, follow_symlinks=False)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(name, stat.S_IFMT(mode) | 0o600, info.st_rdev, dir_fd=dest)
            node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dest)
            try:
                os.chown(f"/proc/self/fd/{node}", info.st_uid, info.st_gid)
                os.chmod(f"/proc/self/fd/{node}", stat.S_IMODE(mode))
                os.utime(f"/proc/self/fd/{node}", ns=(info.st_atime_ns, info.st_mtime_ns))
            finally:
                os.close(node)
        # sockets are left out, as tar leaves them out


def _copy_file(source: int, dest: int, name: str, info: os.stat_result) -> None:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=source)
    try:
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dest)
        try:
            while data := os.read(src, 1 << 20):
                view = memoryview(data)
                while view:
                    view = view[os.write(dst, view):]
            _set_metadata(dst, info)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _set_metadata(fd: int, info: os.stat_result) -> None:
    """Owner first: chown clears setuid/setgid bits, so the mode goes on after it."""
    os.fchown(fd, info.st_uid, info.st_gid)
    os.fchmod(fd, stat.S_IMODE(info.st_mode))
    os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))
