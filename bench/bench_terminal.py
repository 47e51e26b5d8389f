"""Terminal sessions and log reading, measured.

1. Keystroke round trip: one byte typed into `cat` on a raw pty in a container, until cat's copy is
   back, through pyorch's session (client ↔ shim ↔ pty master), against
   the same round trip on a pty of this host with no container and no shim (the floor).
2. `logs` on a large log (534 MB, the size issue 20 measured at 1.36 GB of memory): peak RSS and
   time of reading it whole and of `--tail 100`, each in a fresh process; and, for scale, the
   previous reader's way (the whole file read and split in memory) on a fifth of that size.

Usage (root): .venv/bin/python bench/bench_terminal.py [--rounds 300] [--log-mb 534]
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import termios
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.container import session as kinds
from runtime.container.frames import Decoder, encode
from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.image.bootstrap import ensure_base_images
from runtime.layout import HostLayout

BUSYBOX = "pyorch.local/busybox:latest"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1e6:7.0f} µs   p99 {p99 * 1e6:7.0f} µs"


def session_round_trips(rounds: int) -> list[float]:
    root = Path(tempfile.mkdtemp(prefix="pyorch-bench-term-"))
    layout = HostLayout(state_root=root / "state", run_root=root / "run", instance="bterm")
    rt = ContainerRuntime(layout)
    ensure_base_images(rt.images)
    info = rt.create(RunConfig(name="bench", image=BUSYBOX, command=["sh", "-c", "sleep 3600"], init=True))
    try:
        rt.start(info.id)
        _, sock = rt.exec_session(info.id, ["sh", "-c", "stty raw -echo && echo ready && exec cat"], tty=True,
                                  stdin=True, size=(24, 80))
        decoder = Decoder()
        ready = b""
        while b"ready" not in ready:  # raw mode: each byte reaches cat at once and comes back once
            ready += b"".join(p for _, p in decoder.feed(sock.recv(65536)))
        samples = []
        for i in range(rounds + 20):
            byte = bytes([97 + i % 26])
            started = time.perf_counter()
            sock.sendall(encode(kinds.STDIN, byte))
            seen = b""
            while byte not in seen:
                for kind, payload in decoder.feed(sock.recv(65536)):
                    if kind == kinds.STDOUT:
                        seen += payload
            if i >= 20:  # warmed up
                samples.append(time.perf_counter() - started)
        sock.close()
        return samples
    finally:
        for c in rt.containers():
            rt.remove(c.id, force=True)
        from runtime.gc import purge_instance, stop_daemons

        stop_daemons(layout)
        purge_instance(layout)
        shutil.rmtree(root, ignore_errors=True)


def host_pty_round_trips(rounds: int) -> list[float]:
    master, slave = pty.openpty()
    tty.setraw(slave)
    termios.tcsetattr(slave, termios.TCSANOW, termios.tcgetattr(slave))
    cat = subprocess.Popen(["cat"], stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    samples = []
    try:
        for i in range(rounds + 20):
            byte = bytes([97 + i % 26])
            started = time.perf_counter()
            os.write(master, byte)
            seen = b""
            while byte not in seen:
                select.select([master], [], [])
                seen += os.read(master, 65536)
            if i >= 20:
                samples.append(time.perf_counter() - started)
    finally:
        cat.kill()
        cat.wait()
        os.close(master)
    return samples


_READ_NEW = """
import resource, sys, time
from pathlib import Path
from orchestrator.engine.logs import LogSource, stream_logs
started = time.perf_counter()
count = sum(1 for _ in stream_logs(lambda: [LogSource("c", "s", Path(sys.argv[1]))], False, int(sys.argv[2]),
                                   lambda: True))
print(count, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
_READ_OLD = """
import resource, sys, time
started = time.perf_counter()
with open(sys.argv[1], "rb") as f:  # what tail_lines did for `logs` without --tail
    count = len([line for line in f.read().decode(errors="replace").splitlines() if line])
print(count, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def read_log(script: str, path: Path, tail: int) -> tuple[int, float, float]:
    out = subprocess.run([sys.executable, "-c", script, str(path), str(tail)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) / 1024


def write_log(path: Path, megabytes: int) -> None:
    from runtime.container.logfile import encode_records

    line = b"GET /api/items?page=3 200 1532 0.004 \"Mozilla/5.0 (X11; Linux x86_64)\" request handled" * 2 + b"\n"
    block = line * 2000
    with open(path, "wb") as f:
        stamp = 1_700_000_000_000_000_000
        while f.tell() < megabytes << 20:
            f.write(encode_records("stdout", block, now_ns=stamp))
            stamp += 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--log-mb", type=int, default=534)
    args = parser.parse_args()

    print(f"keystroke round trip, {args.rounds} rounds (one byte to `cat` on a raw pty and back)")
    through_session = session_round_trips(args.rounds)
    on_host = host_pty_round_trips(args.rounds)
    print(f"  pyorch session (client ↔ shim ↔ pty in a container)  {percentiles(through_session)}")
    print(f"  a pty on this host, no container                      {percentiles(on_host)}")
    print(f"  ratio of medians: {statistics.median(through_session) / statistics.median(on_host):.2f}x")

    with tempfile.TemporaryDirectory(prefix="pyorch-bench-logs-") as tmp:
        big = Path(tmp) / "ctr.log"
        write_log(big, args.log_mb)
        size = big.stat().st_size / (1 << 20)
        print(f"\nlogs of a {size:.0f} MiB log (fresh process each; peak RSS includes the interpreter)")
        for tail, what in ((-1, "whole log"), (100, "--tail 100")):
            count, took, peak = read_log(_READ_NEW, big, tail)
            print(f"  {what:<12} {count:>9} records  {took:6.2f} s  peak RSS {peak:7.1f} MiB")
        small = Path(tmp) / "small.log"
        write_log(small, args.log_mb // 5)
        _, took, peak = read_log(_READ_OLD, small, -1)
        _, new_took, new_peak = read_log(_READ_NEW, small, -1)
        print(f"  for scale, {small.stat().st_size / (1 << 20):.0f} MiB read whole in memory (the old way): "
              f"{took:.2f} s, peak RSS {peak:.1f} MiB; streamed: {new_took:.2f} s, {new_peak:.1f} MiB")
    _ = resource  # the child processes measure themselves


if __name__ == "__main__":
    main()
