"""Reading the host's listening sockets and ephemeral range from /proc files."""

from __future__ import annotations

from pathlib import Path

from runtime.network.hostports import ephemeral_range, listening_ports

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
