"""The network state's base file and journal (runtime/network/state.py): every change survives a
fresh reader, a torn line is dropped, folding keeps the state, two processes see each other's."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from runtime.network import state as state_module
from runtime.network.state import StateFile


def _connect(sf: StateFile, network: str, ip: str, cid: str) -> None:
    with sf.locked() as state:
        raw = state["networks"].setdefault(network, {"subnet": "10.1.0.0/24", "allocations": {}, "last": None})
        raw["allocations"][ip] = cid
        raw["last"] = ip


def test_changes_are_appended_and_read_back_by_a_fresh_reader(tmp_path: Path) -> None:
    sf = StateFile(tmp_path)
    for n in range(1, 6):
        _connect(sf, "web", f"10.1.0.{n}", f"c{n}")
    with sf.locked() as state:
        del state["networks"]["web"]["allocations"]["10.1.0.2"]
        state["ports"]["p"] = {"bindings": [{"host_port": 80}], "backends": ["10.1.0.1"]}
    assert not (tmp_path / "state.json").exists()  # no rewrite of the whole state per change
    assert len((tmp_path / "state.log").read_text().splitlines()) == 1 + 6  # its header, a line per change
    fresh = StateFile(tmp_path).read()
    assert fresh["networks"]["web"]["allocations"] == {f"10.1.0.{n}": f"c{n}" for n in (1, 3, 4, 5)}
    assert fresh["networks"]["web"]["last"] == "10.1.0.5"
    assert fresh["ports"] == {"p": {"bindings": [{"host_port": 80}], "backends": ["10.1.0.1"]}}


def test_nothing_is_written_when_nothing_changed(tmp_path: Path) -> None:
    sf = StateFile(tmp_path)
    _connect(sf, "web", "10.1.0.1", "c1")
    before = (tmp_path / "state.log").read_bytes()
    with sf.locked() as state:
        state["networks"]["web"]["allocations"] = dict(state["networks"]["web"]["allocations"])
    assert (tmp_path / "state.log").read_bytes() == before


def test_a_failed_change_leaves_the_state_as_it_was(tmp_path: Path) -> None:
    sf = StateFile(tmp_path)
    _connect(sf, "web", "10.1.0.1", "c1")
    with pytest.raises(RuntimeError), sf.locked() as state:
        state["networks"]["web"]["allocations"]["10.1.0.9"] = "c9"
        raise RuntimeError("the caller failed half way")
    assert sf.read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1"}
    assert StateFile(tmp_path).read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1"}


def test_a_torn_last_line_is_ignored_and_cut_off_by_the_next_change(tmp_path: Path) -> None:
    sf = StateFile(tmp_path)
    _connect(sf, "web", "10.1.0.1", "c1")
    with open(tmp_path / "state.log", "a") as f:
        f.write('{"set": [[["networks", "web", "allocations", "10.1.0.7"], "c7"')  # the machine stopped here
    other = StateFile(tmp_path)
    assert other.read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1"}
    _connect(other, "web", "10.1.0.2", "c2")
    assert StateFile(tmp_path).read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1", "10.1.0.2": "c2"}
    for line in (tmp_path / "state.log").read_text().splitlines():
        json.loads(line)


def test_the_journal_is_folded_into_the_base_and_replaying_it_again_is_harmless(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "FOLD_MIN_BYTES", 400)
    sf = StateFile(tmp_path)
    for n in range(1, 40):
        _connect(sf, "web", f"10.1.0.{n}", f"c{n}")
    with sf.locked() as state:
        state["networks"]["web"]["allocations"].pop("10.1.0.3")
    assert (tmp_path / "state.json").exists()
    assert os.path.getsize(tmp_path / "state.log") < 400 + os.path.getsize(tmp_path / "state.json")
    want = {f"10.1.0.{n}": f"c{n}" for n in range(1, 40) if n != 3}
    assert StateFile(tmp_path).read()["networks"]["web"]["allocations"] == want
    # A fold cut short between the new base and emptying the journal: the lines again on top.
    log = (tmp_path / "state.log").read_text()
    (tmp_path / "state.log").write_text(log + log)
    assert StateFile(tmp_path).read()["networks"]["web"]["allocations"] == want


def test_two_processes_see_each_others_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "FOLD_MIN_BYTES", 300)
    engine, cli = StateFile(tmp_path), StateFile(tmp_path)
    for n in range(1, 30):
        _connect(engine if n % 3 else cli, "web", f"10.1.0.{n}", f"c{n}")
        want = {f"10.1.0.{k}": f"c{k}" for k in range(1, n + 1)}
        assert engine.read()["networks"]["web"]["allocations"] == want
        assert cli.read()["networks"]["web"]["allocations"] == want


def test_an_older_state_file_alone_is_read(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"networks": {"web": {"allocations": {"10.1.0.1": "c1"}}},
                                                     "ports": {}}))
    (tmp_path / ".lock").touch()
    sf = StateFile(tmp_path)
    assert sf.read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1"}
    _connect(sf, "web", "10.1.0.2", "c2")
    assert StateFile(tmp_path).read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1", "10.1.0.2": "c2"}


def test_a_full_disk_leaves_no_half_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf = StateFile(tmp_path)
    _connect(sf, "web", "10.1.0.1", "c1")
    size = os.path.getsize(tmp_path / "state.log")
    real = os.pwrite

    def short(fd: int, data: bytes, offset: int) -> int:
        real(fd, data[:10], offset)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_module.os, "pwrite", short)
    with pytest.raises(OSError):
        _connect(sf, "web", "10.1.0.2", "c2")
    monkeypatch.setattr(state_module.os, "pwrite", real)
    assert os.path.getsize(tmp_path / "state.log") == size
    assert sf.read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1"}
    assert StateFile(tmp_path).read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1"}


def test_a_journal_made_again_in_the_same_file_is_read_whole(tmp_path: Path) -> None:
    """The whole state removed and made again by others while this process kept what it read:
    even a new journal in the same inode, grown as long, is not taken for the one it read."""
    engine = StateFile(tmp_path)
    _connect(engine, "web", "10.1.0.1", "c1")
    _connect(engine, "web", "10.1.0.2", "c2")
    assert engine.read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1", "10.1.0.2": "c2"}
    with open(tmp_path / "state.log", "r+") as f:  # same inode, new content
        f.truncate(0)
    other = StateFile(tmp_path)
    _connect(other, "db", "10.2.0.1", "d1")
    _connect(other, "db", "10.2.0.2", "d2")
    _connect(other, "db", "10.2.0.3", "d3")
    assert engine.read()["networks"] == other.read()["networks"]
    assert "web" not in engine.read()["networks"]


def test_a_write_the_disk_takes_part_of_is_reported_as_no_space(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filling disk takes part of a write and refuses the rest: the caller sees ENOSPC (which
    the engine names as a full filesystem), not a bare "short write", and no half line stays."""
    sf = StateFile(tmp_path)
    _connect(sf, "web", "10.1.0.1", "c1")
    size = os.path.getsize(tmp_path / "state.log")
    real = os.pwrite
    calls = []

    def filling(fd: int, data: bytes, offset: int) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data)[:10], offset)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state_module.os, "pwrite", filling)
    with pytest.raises(OSError) as raised:
        _connect(sf, "web", "10.1.0.2", "c2")
    monkeypatch.setattr(state_module.os, "pwrite", real)
    assert raised.value.errno == errno.ENOSPC and len(calls) == 2
    assert os.path.getsize(tmp_path / "state.log") == size
    assert StateFile(tmp_path).read()["networks"]["web"]["allocations"] == {"10.1.0.1": "c1"}
