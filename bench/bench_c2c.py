"""Container to container on one pyorch network: latency and throughput, bridge netfilter off and on,
at the network's default MTU (the uplink's) and at 1500.

Two processes, each in its own network namespace, attached by NetworkManager.connect exactly as
containers are (veth on the bridge, address, routes); the client runs inside its namespace and
talks to the server's address directly (what a connection by service name does). Prints, per
setting: sequential TCP requests/s (connect, 1-byte request, 1-byte answer, close) with the median
connect time, and bulk throughput (one connection, 64 KiB writes), medians of interleaved rounds.
bridge-nf-call-iptables is switched under the tests' host-wide lock and put back afterwards.

Usage: .venv/bin/python bench/bench_c2c.py [--seconds 3] [--megabytes 512] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from runtime.layout import HostLayout
from runtime.network import NetworkManager, NetworkSpec

CLONE_NEWNET = 0x40000000
SYSCTL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
LOCK = Path("/run/lock/pyorch-test-bridge-nf.lock")  # the one tests/bridge_netfilter.py takes

SERVER = r"""
import socket, threading
def echo(sock):
    while True:
        c, _ = sock.accept()
        with c:
            c.recv(1); c.sendall(b"x")
def sink(sock):
    while True:
        c, _ = sock.accept()
        with c:
            while c.recv(1 << 20):
                pass
            c.sendall(b"done")
a = socket.socket(); a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); a.bind(("", 7000)); a.listen(128)
b = socket.socket(); b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); b.bind(("", 7001)); b.listen(8)
threading.Thread(target=sink, args=(b,), daemon=True).start()
print("ready", flush=True)
echo(a)
"""

CLIENT = r"""
import json, socket, statistics, sys, time
host, seconds, megabytes = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
connects, done, end = [], 0, time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.perf_counter()
    with socket.create_connection((host, 7000), timeout=5) as s:
        connects.append(time.perf_counter() - t0)
        s.sendall(b"x"); s.recv(1)
    done += 1
chunk, total = b"\0" * 65536, megabytes << 20
t0 = time.perf_counter()
with socket.create_connection((host, 7001), timeout=30) as s:
    sent = 0
    while sent < total:
        s.sendall(chunk); sent += len(chunk)
    s.shutdown(socket.SHUT_WR); s.recv(16)
elapsed = time.perf_counter() - t0
print(json.dumps({"rate": done / seconds, "connect_ms": statistics.median(connects) * 1000,
                  "mb_s": total / elapsed / 1e6}))
"""


def _in_new_netns() -> None:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")


@contextlib.contextmanager
def bridge_nf(value: str) -> Iterator[bool]:
    """Switch bridge-nf-call-iptables (False: this host cannot), and put the host's value back."""
    if not SYSCTL.exists():
        yield value == "0"
        return
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = SYSCTL.read_text().strip()
        try:
            SYSCTL.write_text(value)
            yield True
        except OSError:
            yield False
        finally:
            SYSCTL.write_text(before)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--megabytes", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pyorch-c2c-"))
    layout = HostLayout(state_root=tmp / "state", run_root=tmp / "run", instance="c" + secrets.token_hex(3))
    nm = NetworkManager(layout)
    processes: list[subprocess.Popen[str]] = []
    try:
        default = nm.ensure_network(NetworkSpec(name="dflt"))
        networks = [default, nm.ensure_network(NetworkSpec(name="m1500", mtu=1500))]
        pairs = []
        for index, net in enumerate(networks):
            ends = []
            for role in ("server", "client"):
                code = SERVER if role == "server" else "import time; time.sleep(3600)"
                proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                                        preexec_fn=_in_new_netns)
                processes.append(proc)
                if role == "server":
                    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                ends.append((proc, nm.connect(f"{role}{index}", proc.pid, net.name).ip))
            pairs.append((net, ends))
        results: dict[tuple[str, int | None], list[dict[str, float]]] = {}
        for round_ in range(args.rounds):  # interleaved, so the host's load drifts over every case alike
            for value in ("0", "1"):
                with bridge_nf(value) as switched:
                    if not switched:
                        print(f"bridge-nf-call-iptables={value}: this host cannot switch it")
                        continue
                    for net, ((_, server_ip), (client, _)) in pairs[::1 if round_ % 2 else -1]:
                        out = subprocess.run(["nsenter", "-t", str(client.pid), "-n", sys.executable, "-c", CLIENT,
                                              server_ip, str(args.seconds), str(args.megabytes)],
                                             capture_output=True, text=True, check=True, timeout=300).stdout
                        results.setdefault((value, net.mtu), []).append(json.loads(out))
        print(f"medians of {args.rounds} interleaved rounds")
        print(f"{'bridge-nf-call-iptables':<25}{'MTU':>6}{'req/s':>10}{'connect ms':>12}{'MB/s':>10}")
        for (value, mtu), runs in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            rate, connect, mbs = (statistics.median(r[k] for r in runs) for k in ("rate", "connect_ms", "mb_s"))
            print(f"{value:<25}{mtu or 0:>6}{rate:>10.0f}{connect:>12.3f}{mbs:>10.0f}")
    finally:
        for proc in processes:
            proc.kill()
            proc.wait()
        nm.cleanup_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
