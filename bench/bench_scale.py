"""How the engine's cost grows with the fleet: one service of N busybox httpd replicas.

For each N of `--sizes` (default 200), in a fresh pyorch instance (its own state root, run root
and instance tag, so nothing of another instance is counted or touched):

- up:    `pyorch up -d` of the project until the command returns and `ps` shows N running;
- idle:  the engine process's CPU time over `--idle-seconds` (default 30 s) of doing nothing,
         from /proc/<pid>/stat (utime + stime, so other processes' load does not count), after
         `--settle-seconds` for the passes that follow `up`; as % of one core, per container,
         and the engine's RSS and PSS (smaps_rollup) at the end;
- ps:    `pyorch ps` until the command returns (the median of 5);
- down:  `pyorch down` until the command returns.

`--tree PATH` runs another checkout of pyorch (a `git archive` of an older commit, say) with
this script, so the same measurement compares two versions on one host; `--phases` picks what
runs. Numbers and ratios are printed (and written with `--json FILE`), never asserted.

The replicas share one published port on 127.0.0.1 (the engine keeps its backends), so every
pass also does the publishing work a real service has. Above 250 replicas the project's network
gets a /22 that no route of this host overlaps.

Usage (root): .venv/bin/python bench/bench_scale.py [--sizes 10,50,200] [--idle-seconds 30]
                                                     [--phases up,idle,ps,down] [--tree DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from runtime.gc import purge_instance
from runtime.layout import HostLayout

REPO = Path(__file__).resolve().parents[1]
IMAGE = "pyorch.local/busybox:latest"
PHASES = ("up", "idle", "ps", "down")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def route_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    nets = []
    for line in out.splitlines():
        word = line.split()[0] if line.split() else ""
        if word in ("local", "broadcast", "unreachable", "blackhole"):
            word = line.split()[1]
        try:
            nets.append(ipaddress.IPv4Network(word if "/" in word else word + "/32", strict=False))
        except ValueError:
            continue
    return nets


def free_subnet(prefix: int) -> str:
    """A subnet of 10.88.0.0/16 that no route of this host overlaps."""
    taken = route_networks()
    for candidate in ipaddress.IPv4Network("10.88.0.0/16").subnets(new_prefix=prefix):
        if not any(candidate.overlaps(t) for t in taken if t.prefixlen > 0):
            return str(candidate)
    raise SystemExit("no free subnet in 10.88.0.0/16 for the benchmark's network")


def project_yaml(name: str, replicas: int, port: int) -> str:
    text = f"""name: {name}
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:{port}:80"]
    deploy:
      replicas: {replicas}
"""
    if replicas > 250:
        text += f"networks:\n  default:\n    ipam:\n      config:\n        - subnet: {free_subnet(22)}\n"
    return text


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB from smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
            values[parts[0]] = int(parts[1])
    return values.get("Rss:", 0), values.get("Pss:", 0)


class Instance:
    """One pyorch instance of the tree under test, in temporary roots."""

    def __init__(self, tree: Path, work: Path) -> None:
        self.tree = tree
        self.layout = HostLayout(state_root=work / "state", run_root=work / "run",
                                 instance="bs" + secrets.token_hex(3))
        self.env = dict(os.environ, PYORCH_ROOT=str(self.layout.state_root), PYORCH_RUN=str(self.layout.run_root),
                        PYORCH_INSTANCE=self.layout.instance, PYTHONPATH=str(tree))
        self.run("engine", "start")
        self.run("image", "bootstrap")

    def run(self, *args: str, timeout: float = 900) -> str:
        result = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=self.tree, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise SystemExit(f"pyorch {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout

    def engine_pid(self) -> int:
        return int((self.layout.run_root / "engine.pid").read_text())

    def close(self) -> None:
        try:
            self.run("engine", "stop", timeout=60)
        except (SystemExit, subprocess.TimeoutExpired):
            pass
        purge_instance(self.layout)


def running(instance: Instance, compose: Path) -> int:
    rows = json.loads(instance.run("-f", str(compose), "ps", "--format", "json"))
    return sum(1 for r in rows if r["status"] == "running")


def measure(tree: Path, replicas: int, phases: list[str], idle_s: float, settle_s: float) -> dict[str, Any]:
    result: dict[str, Any] = {"replicas": replicas}
    work = Path(tempfile.mkdtemp(prefix="pyorch-bench-scale-"))
    instance = Instance(tree, work)
    compose = work / "compose.yaml"
    compose.write_text(project_yaml("scale", replicas, free_port()))
    try:
        started = time.monotonic()
        instance.run("-f", str(compose), "up", "-d")
        result["up_s"] = time.monotonic() - started
        deadline = time.monotonic() + 300
        while (count := running(instance, compose)) < replicas:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {count} of {replicas} replicas running after 300 s")
            time.sleep(1)
        result["running_s"] = time.monotonic() - started
        if "idle" in phases:
            pid = instance.engine_pid()
            time.sleep(settle_s)
            before, t0 = cpu_ticks(pid), time.monotonic()
            time.sleep(idle_s)
            ticks, elapsed = cpu_ticks(pid) - before, time.monotonic() - t0
            rss, pss = memory_kib(pid)
            cpu = ticks / CLK_TCK / elapsed * 100
            result.update(idle_cpu_percent=cpu, idle_cpu_percent_per_100=cpu / replicas * 100,
                          engine_rss_mib=rss / 1024, engine_pss_mib=pss / 1024, idle_s=elapsed)
        if "ps" in phases:
            times = []
            for _ in range(5):
                t0 = time.monotonic()
                instance.run("-f", str(compose), "ps")
                times.append(time.monotonic() - t0)
            result["ps_s"] = statistics.median(times)
        if "down" in phases:
            t0 = time.monotonic()
            instance.run("-f", str(compose), "down")
            result["down_s"] = time.monotonic() - t0
    finally:
        instance.close()
        shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200", help="replica counts, comma-separated")
    parser.add_argument("--phases", default="up,idle,down", help=f"of {','.join(PHASES)}")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--settle-seconds", type=float, default=10.0)
    parser.add_argument("--tree", type=Path, default=REPO, help="the pyorch checkout to run (default: this one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_scale needs root (it runs containers)")
    phases = [p for p in args.phases.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phase(s): {', '.join(sorted(unknown))}")
    tree = args.tree.resolve()
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        row = measure(tree, size, phases, args.idle_seconds, args.settle_seconds)
        results.append(row)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"tree": str(tree), "results": results}, indent=2))


if __name__ == "__main__":
    main()
