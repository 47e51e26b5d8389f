"""Reading container logs for `pyorch logs`: streamed, joined, in time order."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from orchestrator.engine.logs import LogSource, stream_logs
from runtime.container.logfile import encode_records


def write_log(path: Path, lines: list[bytes], stream: str = "stdout",
              start_ns: int = 1_700_000_000_000_000_000) -> None:
    with open(path, "ab") as f:
        for i, line in enumerate(lines):
            f.write(encode_records(stream, line, now_ns=start_ns + i))


def read_all(sources: list[LogSource], tail: int = -1) -> list[dict[str, str]]:
    return list(stream_logs(lambda: sources, follow=False, tail=tail, stopped=lambda: True))


def test_a_large_log_is_streamed_not_read_whole(tmp_path: Path) -> None:
    """Issue 20: a 534 MB log cost 1.36 GB; reading must hold a few lines, not the file."""
    path = tmp_path / "ctr.log"
    line = b"x" * 200 + b"\n"
    with open(path, "wb") as f:
        for block in range(200):
            f.write(encode_records("stdout", line * 1000, now_ns=1_700_000_000_000_000_000 + block))
    size = path.stat().st_size
    assert size > 40_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in stream_logs(lambda: [LogSource("c", "s", path)], False, -1, lambda: True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < size / 10, f"peak {peak} bytes for a {size}-byte log"


def test_tail_reads_the_end(tmp_path: Path) -> None:
    path = tmp_path / "ctr.log"
    write_log(path, [f"line {i}\n".encode() for i in range(1000)])
    assert [r["text"] for r in read_all([LogSource("c", "s", path)], tail=3)] == ["line 997", "line 998", "line 999"]
    assert read_all([LogSource("c", "s", path)], tail=0) == []


def test_partial_records_of_a_long_line_are_joined(tmp_path: Path) -> None:
    """The shim writes a read that ended mid-line as a partial (P) record; `logs` shows one line."""
    path = tmp_path / "ctr.log"
    write_log(path, [b"a" * 70000, b"b" * 70000, b"c end\nnext\n"])
    texts = [r["text"] for r in read_all([LogSource("c", "s", path)])]
    assert texts == ["a" * 70000 + "b" * 70000 + "c end", "next"]


def test_partials_join_per_stream(tmp_path: Path) -> None:
    path = tmp_path / "ctr.log"
    with open(path, "wb") as f:
        f.write(encode_records("stdout", b"out-", now_ns=1))
        f.write(encode_records("stderr", b"err line\n", now_ns=2))
        f.write(encode_records("stdout", b"continued\n", now_ns=3))
    records = read_all([LogSource("c", "s", path)])
    # a joined line is stamped with the time its end arrived
    assert [(r["stream"], r["text"]) for r in records] == [("stderr", "err line"), ("stdout", "out-continued")]


def test_sources_merge_in_time_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    write_log(a, [b"a0\n", b"a1\n"], start_ns=10)
    write_log(b, [b"b0\n", b"b1\n"], start_ns=5)
    records = read_all([LogSource("a", "s", a), LogSource("b", "s", b)])
    assert [r["text"] for r in records] == ["b0", "b1", "a0", "a1"]


def test_following_crosses_a_rotation_and_a_move_without_loss_or_repeat(tmp_path: Path) -> None:
    live, kept = tmp_path / "live", tmp_path / "kept"
    live.mkdir()
    path = live / "ctr.log"
    write_log(path, [b"one\n", b"two\n"], start_ns=1)
    where = {"path": path}
    done = {"now": False}
    records = stream_logs(lambda: [LogSource("c", "s", where["path"], key="id1")], True, -1, lambda: done["now"],
                          poll_s=0.01)
    assert [next(records)["text"], next(records)["text"]] == ["one", "two"]
    write_log(path, [b"three\n"], start_ns=3)  # written before the rotation: read from the rotated file
    path.rename(live / "ctr.log.1")
    write_log(path, [b"four\n"], start_ns=4)
    assert [next(records)["text"], next(records)["text"]] == ["three", "four"]
    kept.mkdir()
    write_log(path, [b"five\n"], start_ns=5)
    path.rename(kept / "ctr.log")  # the container was removed: its log moved to the archive
    where["path"] = kept / "ctr.log"
    assert next(records)["text"] == "five"
    done["now"] = True
    assert list(records) == []


def test_a_line_left_open_is_shown_when_following(tmp_path: Path) -> None:
    path = tmp_path / "ctr.log"
    write_log(path, [b"Password: "])
    records = stream_logs(lambda: [LogSource("c", "s", path)], True, -1, lambda: False, poll_s=0.01)
    assert next(records)["text"] == "Password: "
