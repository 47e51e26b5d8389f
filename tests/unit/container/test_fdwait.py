"""Waiting on descriptors numbered past FD_SETSIZE (1024): a shim with a few hundred containers
holds such descriptors, and select() refused them in the middle of an `up` of 400 replicas."""

from __future__ import annotations

import fcntl
import os
import resource
import socket
import time
from collections.abc import Iterator

import pytest

from runtime.container.frames import encode
from runtime.container.sync import Channel, Kind
from runtime.fdwait import readable


@pytest.fixture
def high_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A socket pair whose first end is descriptor 1500 or above."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"RLIMIT_NOFILE's hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    high = socket.socket(fileno=fcntl.fcntl(a.fileno(), fcntl.F_DUPFD_CLOEXEC, 1500))
    a.close()
    try:
        yield high, b
    finally:
        high.close()
        b.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_readable_waits_on_descriptors_past_1024(high_pair: tuple[socket.socket, socket.socket]) -> None:
    high, other = high_pair
    assert high.fileno() >= 1500
    assert readable([high], 0) == []
    other.sendall(b"x")
    assert readable([high.fileno()], 10) == [high.fileno()]
    r, w = os.pipe()
    try:
        assert readable([r], 0.05) == []  # the timeout passes with nothing to read
    finally:
        os.close(r)
        os.close(w)


def test_a_setup_channel_past_1024_is_read_with_a_deadline(high_pair: tuple[socket.socket, socket.socket]) -> None:
    high, other = high_pair
    other.sendall(encode(Kind.READY.value, b""))
    message = Channel(high).recv(deadline=time.monotonic() + 10)
    assert message is not None and message.kind is Kind.READY
