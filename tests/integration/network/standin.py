"""A stand-in container: a process in its own network namespace serving TCP and UDP.

Run as ``python standin.py NAME TCP_PORT UDP_PORT GATE_DIR`` with ``unshare(CLONE_NEWNET)`` done
before exec (see ``containers.py``). It binds before any address exists (binding 0.0.0.0 needs
none), prints ``ready`` and serves:

- TCP: on connect it sends ``NAME\\n``. A client that then sends ``hold\\n`` gets ``done\\n`` only
  once the file ``GATE_DIR/release`` exists — an in-flight slow response the test controls
  without timing. Any other line is answered with ``NAME\\n`` and the connection closes.
- UDP: every datagram is answered with ``NAME``.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time


def serve_tcp(name: bytes, sock: socket.socket, gate: str) -> None:
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handle, args=(name, conn, gate), daemon=True).start()


def handle(name: bytes, conn: socket.socket, gate: str) -> None:
    with conn:
        try:
            conn.sendall(name + b"\n")
            line = conn.makefile("rb").readline().strip()
            if line == b"hold":
                while not os.path.exists(os.path.join(gate, "release")):
                    time.sleep(0.01)
                conn.sendall(b"done\n")
            else:
                conn.sendall(name + b"\n")
        except OSError:
            pass


def serve_udp(name: bytes, sock: socket.socket) -> None:
    while True:
        _, peer = sock.recvfrom(2048)
        sock.sendto(name, peer)


def main() -> None:
    name, tcp_port, udp_port, gate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", tcp_port))
    tcp.listen(64)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", udp_port))
    threading.Thread(target=serve_udp, args=(name.encode(), udp), daemon=True).start()
    print("ready", flush=True)
    serve_tcp(name.encode(), tcp, gate)


if __name__ == "__main__":
    main()
