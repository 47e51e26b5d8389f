"""The k8s-file log format conmon writes, as pyorch writes and reads it."""

from __future__ import annotations

from runtime.container.logfile import encode_records, parse_line, timestamp

NS = 1_795_000_000_123_456_789


def test_timestamp_has_nanoseconds_and_utc_offset() -> None:
    assert timestamp(NS) == "2026-11-18T11:06:40.123456789+00:00"


def test_full_lines_and_a_trailing_partial_line() -> None:
    records = encode_records("stdout", b"one\ntwo\nthr", NS).decode().splitlines()
    assert [r.split(" ", 1)[1] for r in records] == ["stdout F one", "stdout F two", "stdout P thr"]


def test_empty_lines_are_kept() -> None:
    records = encode_records("stderr", b"\n\n", NS).decode().splitlines()
    assert [r.split(" ", 1)[1] for r in records] == ["stderr F ", "stderr F "]


def test_round_trip_keeps_spaces_in_text() -> None:
    line = encode_records("stderr", b"a  b c\n", NS).decode()
    record = parse_line(line)
    assert record is not None
    assert (record.stream, record.partial, record.text) == ("stderr", False, "a  b c")


def test_garbage_line_is_not_a_record() -> None:
    assert parse_line("nonsense") is None
