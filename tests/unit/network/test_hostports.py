"""The host's listening sockets (sock_diag, or /proc files) and its ephemeral range."""

from __future__ import annotations

import socket
from pathlib import Path

from runtime.network.hostports import _diag_ports, _proc_ports, ephemeral_range, listening_ports

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0202000C:C350 0102000C:0016 01 00000000:00000000 00:00000000 00000000     0        0 2 1
"""
TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0
"""
UDP = """  sl  local_address rem_address   st
  10: 00000000:14E9 00000000:0000 07 0
"""


def test_listening_tcp_v4_and_v6_but_not_established(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text(TCP)
    (tmp_path / "tcp6").write_text(TCP6)
    assert listening_ports("tcp", tmp_path) == {8080, 80}


def test_every_bound_udp_socket_counts(tmp_path: Path) -> None:
    (tmp_path / "udp").write_text(UDP)
    assert listening_ports("udp", tmp_path) == {5353}


def test_ephemeral_range_falls_back_to_dockers(tmp_path: Path) -> None:
    (tmp_path / "range").write_text("32768\t60999\n")
    assert ephemeral_range(tmp_path / "range") == (32768, 60999)
    assert ephemeral_range(tmp_path / "missing") == (49153, 65535)


def test_sock_diag_sees_what_proc_shows_listeners_and_udp_but_not_connections() -> None:
    with socket.socket() as listener, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        udp.bind(("::", 0))
        with socket.create_connection(listener.getsockname()) as client:
            tcp_ports, udp_ports = listening_ports("tcp"), listening_ports("udp")
            assert listener.getsockname()[1] in tcp_ports and client.getsockname()[1] not in tcp_ports
            assert udp.getsockname()[1] in udp_ports
            # the same answer as the /proc files (only for these sockets: others come and go meanwhile)
            ours = {("tcp", listener.getsockname()[1]), ("udp", udp.getsockname()[1])}
            assert {(p, port) for p, port in ours if port in _diag_ports(p)} == ours
            assert {(p, port) for p, port in ours if port in _proc_ports(p, Path("/proc/net"))} == ours
