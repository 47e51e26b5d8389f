"""The setup channel between the shim and a container's processes, and its frame codec."""

from __future__ import annotations

import os
import threading
import time

import pytest

from runtime.container import frames, shim_protocol, sync


def test_frames_survive_any_split() -> None:
    data = frames.encode(b"P", b"1234") + frames.encode(b"R") + frames.encode(b"E", "é".encode() * 70000)
    for step in (1, 3, 7, 4096):
        decoder = frames.Decoder()
        out = []
        for i in range(0, len(data), step):
            out += decoder.feed(data[i:i + step])
        assert out == [(b"P", b"1234"), (b"R", b""), (b"E", "é".encode() * 70000)]
        assert decoder.pending() == 0


def test_a_corrupt_length_is_refused() -> None:
    with pytest.raises(frames.FrameError):
        frames.Decoder().feed(frames.HEADER.pack(b"P", frames.MAX_PAYLOAD + 1))


def test_a_child_report_reaches_the_shim_until_end_of_file() -> None:
    shim_end, child_fd = sync.channel()
    child_end = sync.Channel.from_fd(child_fd)
    sync.report_pid(child_end, 42)
    sync.report_ready(child_end)
    first = sync.collect(shim_end, sync.Kind.PID, timeout=5)
    assert (first.pid, first.ready, first.ended) == (42, False, False)
    second = sync.collect(shim_end, sync.Kind.READY, timeout=5)
    assert second.ready and not second.ended
    child_end.close()  # what an exec does to a close-on-exec end
    assert sync.collect(shim_end, None, timeout=5).ended
    shim_end.close()


def test_an_error_stops_the_wait_and_is_one_line() -> None:
    shim_end, child_fd = sync.channel()
    child_end = sync.Channel.from_fd(child_fd)
    sync.report_error(child_end, "mount /proc:\nEPERM" + "x" * 10000)
    sync.report_ready(child_end)
    report = sync.collect(shim_end, sync.Kind.READY, timeout=5)
    assert report.error is not None and report.error.startswith("mount /proc: EPERM")
    assert len(report.error) == sync.ERROR_LIMIT and not report.ready
    child_end.close()
    shim_end.close()


def test_the_shim_end_waits_no_longer_than_its_deadline() -> None:
    shim_end, child_fd = sync.channel()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        sync.collect(shim_end, sync.Kind.PID, timeout=0.05)
    assert time.monotonic() - started < 5
    os.close(child_fd)
    shim_end.close()


def test_spec_attached_start_in_order_and_end_of_file_means_let_go() -> None:
    shim_end, child_fd = sync.channel()
    child_end = sync.Channel.from_fd(child_fd)
    big = b"{" + b" " * 300000 + b"}"  # larger than a socket buffer: the child reads as it comes
    sender = threading.Thread(target=sync.send_spec, args=(shim_end, big))
    sender.start()
    assert sync.wait_spec(child_end) == (big, None)
    sender.join()
    sync.send_attached(shim_end)
    sync.send_start(shim_end)
    assert sync.wait_attached(child_end)
    assert sync.wait_start(child_end)
    shim_end.close()
    assert sync.wait_spec(child_end) is None
    child_end.close()


def test_protocol_lines_split_anywhere() -> None:
    data = shim_protocol.request(shim_protocol.Op.PING) + shim_protocol.encode({"ok": True, "pid": 7})
    lines = shim_protocol.LineBuffer()
    got = []
    for byte in data:
        lines.feed(bytes([byte]))
        while (message := lines.next()) is not None:
            got.append(message)
    assert got == [{"op": "ping"}, {"ok": True, "pid": 7}]


def test_descriptors_ride_with_their_messages() -> None:
    shim_end, child_fd = sync.channel()
    child_end = sync.Channel.from_fd(child_fd)
    read_end, write_end = os.pipe()
    sync.send_spec(shim_end, b"{}", stdin_fd=read_end)
    spec, stdin = sync.wait_spec(child_end) or (b"", None)
    assert spec == b"{}" and stdin is not None and stdin not in (read_end, write_end)
    os.write(write_end, b"typed")
    assert os.read(stdin, 5) == b"typed"  # the same pipe, another descriptor
    master_r, master_w = os.pipe()
    sync.report_pid(child_end, 9)
    sync.hand_terminal(child_end, master_r)
    sync.report_ready(child_end)
    report = sync.collect(shim_end, sync.Kind.READY, timeout=5)
    assert report.pid == 9 and report.ready and report.terminal >= 0
    os.write(master_w, b"x")
    assert os.read(report.terminal, 1) == b"x"
    for fd in (read_end, write_end, stdin, master_r, master_w, report.terminal):
        os.close(fd)
    child_end.close()
    shim_end.close()
