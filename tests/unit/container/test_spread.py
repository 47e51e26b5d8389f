"""The containers directory spreads its bundles over the filesystem's block groups (`chattr +T`
where the filesystem has the flag; runtime/linux/spread.py)."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from runtime.linux.spread import FS_IOC_GETFLAGS, FS_TOPDIR_FL, spread_subdirectories


def _flags(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return int(struct.unpack("I", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("I", 0)))[0])
    finally:
        os.close(fd)


def test_the_flag_is_set_where_the_filesystem_has_it(tmp_path: Path) -> None:
    fstype = subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True, text=True).stdout.strip()
    if fstype not in ("ext2/ext3",):  # stat's name for ext2, ext3 and ext4
        pytest.skip(f"{tmp_path} is on {fstype}, which has no top-of-hierarchy flag")
    assert spread_subdirectories(tmp_path)
    assert _flags(tmp_path) & FS_TOPDIR_FL
    assert spread_subdirectories(tmp_path)  # idempotent
    (tmp_path / "bundle").mkdir()
    assert not _flags(tmp_path / "bundle") & FS_TOPDIR_FL  # only the top is marked


def test_a_filesystem_without_the_flag_changes_nothing() -> None:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as directory:  # tmpfs
        assert spread_subdirectories(Path(directory)) is False
    assert spread_subdirectories(Path("/nonexistent-pyorch-dir")) is False
