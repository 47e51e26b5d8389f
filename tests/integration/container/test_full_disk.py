"""A full filesystem under the shim's log files, its exit records and the engine's store: on a
tmpfs of a few pages, filled to the last block, then freed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.engine.store import Store
from runtime.container.logfile import encode_records, parse_line
from runtime.container.shim_logs import LogFile
from runtime.container.shim_reaper import RESERVE_NAME, exit_record, reserve_exit_record, write_exit_record
from runtime.container.spec import LogSettings
from runtime.diskspace import full_message, has_room, is_no_space
from runtime.faults import fill

pytestmark = [pytest.mark.root]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "pyorch-test-full", str(root)], check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=True)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_a_log_drops_whole_records_on_a_full_disk_and_says_so_after(small_fs: Path) -> None:
    log = LogFile(str(small_fs / "ctr.log"), LogSettings())
    try:
        log.write("stdout", b"before\n")
        filler = small_fs / "filler"
        fill(filler)
        # The log's last page has room left: the records that fit are written, the one cut short
        # by the disk is truncated back (never half a record), the rest are counted and dropped.
        for i in range(100):
            log.write("stdout", f"lost {i} ".encode() * 50 + b"\n")
        assert log.take_drops() is None  # nothing said yet: there is no room to say it
        texts = [r.text for r in (parse_line(line) for line in _lines(small_fs / "ctr.log")) if r is not None]
        kept = len(texts) - 1
        assert 0 < kept < 100 and texts == ["before"] + [f"lost {i} " * 50 for i in range(kept)]
        filler.unlink()
        log.write("stdout", b"after\n")
        texts = [r.text for r in (parse_line(line) for line in _lines(small_fs / "ctr.log")) if r is not None]
        assert texts[-1] == "after" and texts[:-2] == ["before"] + [f"lost {i} " * 50 for i in range(kept)]
        lost = sum(len(encode_records("stdout", f"lost {i} ".encode() * 50 + b"\n", 0)) for i in range(kept, 100))
        assert texts[-2].startswith(f"[pyorch] {100 - kept} line(s), {lost} bytes of output dropped since ")
        assert texts[-2].endswith("no space left on device")
        drops = log.take_drops()
        assert drops is not None and drops[:2] == (100 - kept, lost)
        assert log.take_drops() is None  # said once
    finally:
        log.close()


def test_an_exit_record_fits_in_its_reserved_room(small_fs: Path) -> None:
    bundle = small_fs / "bundle"
    bundle.mkdir()
    assert reserve_exit_record(str(bundle))
    fill(small_fs / "filler")
    info = exit_record(4321, 137, 9)
    write_exit_record(str(bundle), info)
    assert json.loads((bundle / "exit.json").read_text()) == info
    assert not (bundle / RESERVE_NAME).exists() and not (bundle / "exit.json.tmp").exists()
    with pytest.raises(OSError):  # no room reserved any more, none left: said, not hidden
        write_exit_record(str(bundle), exit_record(4322, 0, 0))
    assert not reserve_exit_record(str(bundle))


def test_the_store_refuses_writes_on_a_full_disk_and_recovers(small_fs: Path) -> None:
    store = Store(small_fs / "engine.db")
    store.save_revision("p", "/w", {"v": 1})
    store.record_event("p", "first", "p")
    filler = small_fs / "filler"
    fill(filler)
    big = {"v": "x" * 200_000}
    with pytest.raises(sqlite3.OperationalError) as raised:
        store.save_revision("p", "/w", big)
    assert is_no_space(raised.value)
    assert not has_room(small_fs)
    assert "no space left on the filesystem at " + str(small_fs) + " (tmpfs" in full_message(small_fs)
    for i in range(50):  # events are counted and dropped, never raised
        store.record_event("p", "lost", "p", blob="y" * 5000, i=i)
    store.save_health("c", 1.0, {"status": "healthy", "blob": "z" * 100_000})  # skipped
    assert store.current_spec("p") == {"v": 1}  # reads answer
    filler.unlink()
    assert store.save_revision("p", "/w", {"v": 2}) == 2  # no transaction was left open
    store.record_event("p", "back", "p")
    kinds = [e.kind for e in store.events_since(0)]
    assert kinds[0] == "first" and kinds[-2:] == ["events-dropped", "back"] and "lost" not in kinds[:-2], kinds
    dropped = store.events_since(0)[-2].detail
    assert dropped["count"] >= 1 and dropped["reason"] == "no space left on device"
    store.close()
    db = sqlite3.connect(small_fs / "engine.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
