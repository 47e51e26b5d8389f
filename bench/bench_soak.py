"""Soak: many `up -d` / `down` cycles of a small project, watching the engine's resources.

Every `--every` cycles (and after the first and the last) it prints the engine's open file
descriptors by type (sockets by protocol: NETLINK_ROUTE, UNIX, TCP, …; pipes, anon inodes
such as epoll or pidfds, regular files), its threads, its RSS, the shim's RSS and fds, and the
time of the cycles since the last line. None of them may grow with the number of cycles: a
leak of one descriptor per cycle shows as +100 fds after 100 cycles (issue 20 found +214, two
NETLINK_ROUTE sockets per cycle). It ends with the first and last sample side by side and exits
1 when fds or threads grew by more than `--slack`, or RSS by more than `--rss-slack-mib`.

The project: `--services` busybox services (one with a published port, one with a healthcheck),
on the project's default bridge network, `restart: always`; `up -d --wait` then `down -t 1`,
each through the CLI as a user runs them. The engine runs in a private instance (its own state
root, run directory, instance tag), removed at the end.

Usage (root): .venv/bin/python bench/bench_soak.py [--cycles 100] [--every 10] [--services 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from runtime.gc import purge_instance
from runtime.layout import HostLayout

REPO = Path(__file__).resolve().parents[1]
NETLINK_PROTOCOLS = {0: "NETLINK_ROUTE", 9: "NETLINK_AUDIT", 12: "NETLINK_NETFILTER", 16: "NETLINK_GENERIC",
                     4: "NETLINK_SOCK_DIAG", 15: "NETLINK_KOBJECT_UEVENT"}


@dataclass(frozen=True)
class Sample:
    cycle: int
    fds: Counter[str]
    threads: int
    rss_kib: int
    shim_rss_kib: int
    shim_fds: int
    cycle_s: float  # median time of the cycles since the previous sample

    @property
    def total_fds(self) -> int:
        return sum(self.fds.values())


def compose_text(services: int, port: int) -> str:
    lines = ["name: soak", "services:"]
    for i in range(services):
        lines += [f"  s{i}:", "    image: pyorch.local/busybox:latest", "    restart: always", "    init: true"]
        if i == 0:
            lines += ['    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && '
                      'exec httpd -f -p 80 -h /www"]', f'    ports: ["127.0.0.1:{port}:80"]']
        elif i == 1:
            lines += ['    command: ["sh", "-c", "touch /tmp/ready; exec sleep 100000"]',
                      '    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, '
                      'start_interval: 100ms, start_period: 10s}']
        else:
            lines += ['    command: ["sleep", "100000"]']
    return "\n".join(lines) + "\n"


# --- what the kernel says about a process ---------------------------------------------------------------

def _socket_protocols() -> dict[int, str]:
    """Socket inode → kind, from /proc/net (netlink by protocol number, unix, tcp, udp)."""
    kinds: dict[int, str] = {}
    with open("/proc/net/netlink") as f:
        next(f)
        for line in f:
            fields = line.split()
            kinds[int(fields[-1])] = NETLINK_PROTOCOLS.get(int(fields[1]), f"NETLINK_{fields[1]}")
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            kinds[int(line.split()[6])] = "UNIX"
    for name in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/net/{name}") as f:
            next(f)
            for line in f:
                kinds[int(line.split()[9])] = name.upper().rstrip("6")
    return kinds


def fd_kinds(pid: int) -> Counter[str]:
    kinds: Counter[str] = Counter()
    sockets = _socket_protocols()
    for entry in os.scandir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(entry.path)
        except OSError:
            continue
        if target.startswith("socket:["):
            kinds[sockets.get(int(target[8:-1]), "socket")] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        elif target.startswith("anon_inode:"):
            kinds[target.removeprefix("anon_inode:").strip("[]")] += 1
        elif target.startswith("/dev/"):
            kinds["device"] += 1
        else:
            kinds["file"] += 1
    return kinds


def status_field(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def shim_pid(layout: HostLayout) -> int:
    from runtime.container.shim_client import ShimClient

    client = ShimClient(layout.run_root)
    try:
        return client.shim_pid()
    finally:
        client.close()


# --- the cycles ------------------------------------------------------------------------------------------

def run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample(layout: HostLayout, cycle: int, durations: list[float]) -> Sample:
    engine = int((layout.run_root / "engine.pid").read_text())
    shim = shim_pid(layout)
    return Sample(cycle, fd_kinds(engine), status_field(engine, "Threads"), status_field(engine, "VmRSS"),
                  status_field(shim, "VmRSS"), len(os.listdir(f"/proc/{shim}/fd")),
                  statistics.median(durations) if durations else 0.0)


def show(s: Sample) -> None:
    kinds = " ".join(f"{k}={v}" for k, v in sorted(s.fds.items()))
    print(f"cycle {s.cycle:4d}  fds {s.total_fds:4d} ({kinds})  threads {s.threads:3d}  "
          f"rss {s.rss_kib / 1024:6.1f} MiB  shim rss {s.shim_rss_kib / 1024:5.1f} MiB fds {s.shim_fds:3d}  "
          f"cycle {s.cycle_s * 1000:6.0f} ms", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--every", type=int, default=10, help="print a sample every N cycles")
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--slack", type=int, default=3, help="fds or threads the engine may gain in all")
    parser.add_argument("--rss-slack-mib", type=float, default=8.0, help="RSS the engine may gain in all")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="pyorch-soak-") as tmp:
        root = Path(tmp)
        layout = HostLayout(state_root=root / "state", run_root=root / "run", instance="soak" + secrets.token_hex(2))
        env = dict(os.environ, PYORCH_ROOT=str(layout.state_root), PYORCH_RUN=str(layout.run_root),
                   PYORCH_INSTANCE=layout.instance)
        (root / "compose.yaml").write_text(compose_text(args.services, free_port()))
        cli = [sys.executable, "-m", "orchestrator.cli"]
        try:
            run([*cli, "image", "bootstrap"], env, REPO)
            samples: list[Sample] = []
            durations: list[float] = []
            for cycle in range(1, args.cycles + 1):
                started = time.monotonic()
                run([*cli, "-f", str(root / "compose.yaml"), "up", "-d", "--wait"], env, root)
                run([*cli, "-f", str(root / "compose.yaml"), "down", "-t", "1"], env, root)
                durations.append(time.monotonic() - started)
                if cycle == 1 or cycle % args.every == 0 or cycle == args.cycles:
                    samples.append(sample(layout, cycle, durations))
                    show(samples[-1])
                    durations = []
        except SystemExit:
            for name in ("engine.log", "shim.log"):  # why, before the instance goes
                log = layout.run_root / name
                if log.exists():
                    print(f"{name}, last lines:\n" + "\n".join(log.read_text().splitlines()[-40:]), file=sys.stderr)
            raise
        finally:
            purge_instance(layout)

    # The first cycle warms up (imports, thread pools, the DNS server, sqlite's cache): compare
    # the later samples with the one after it.
    base = samples[1] if len(samples) > 2 else samples[0]
    last = samples[-1]
    print(f"\nfrom cycle {base.cycle} to {last.cycle}: fds {base.total_fds} → {last.total_fds}, "
          f"threads {base.threads} → {last.threads}, rss {base.rss_kib / 1024:.1f} → {last.rss_kib / 1024:.1f} MiB, "
          f"cycle {base.cycle_s * 1000:.0f} → {last.cycle_s * 1000:.0f} ms")
    grew = (last.total_fds - base.total_fds > args.slack or last.threads - base.threads > args.slack
            or (last.rss_kib - base.rss_kib) / 1024 > args.rss_slack_mib)
    print("GREW" if grew else "flat")
    return 1 if grew else 0


if __name__ == "__main__":
    sys.exit(main())
