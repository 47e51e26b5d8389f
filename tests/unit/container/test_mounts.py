"""Mount requests are checked on the host before anything is forked."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.container.mounts import MountError, resolve_mounts
from runtime.container.runconfig import Mount
from runtime.errors import RuntimeFailure


def test_volume_becomes_a_directory_under_the_state_root(tmp_path: Path) -> None:
    binds, _ = resolve_mounts([Mount("volume", "/data", "proj_data")], tmp_path)
    assert binds[0].source == str(tmp_path / "proj_data" / "_data")
    assert (tmp_path / "proj_data" / "_data").is_dir()


def test_bind_source_created_only_when_asked(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(MountError, match="does not exist"):
        resolve_mounts([Mount("bind", "/x", str(missing), create_host_path=False)], tmp_path)
    binds, _ = resolve_mounts([Mount("bind", "/x", str(missing), read_only=True)], tmp_path)
    assert missing.is_dir() and binds[0].read_only


@pytest.mark.parametrize("target", ["relative/path", "/a/../../etc"])
def test_bad_targets_are_refused(tmp_path: Path, target: str) -> None:
    with pytest.raises(MountError):
        resolve_mounts([Mount("tmpfs", target)], tmp_path)


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b"])
def test_volume_names_cannot_escape(tmp_path: Path, name: str) -> None:
    with pytest.raises(RuntimeFailure, match="invalid volume name"):
        resolve_mounts([Mount("volume", "/d", name)], tmp_path)
