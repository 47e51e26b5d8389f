"""Network costs: per-container setup, and a published port against a direct connection.

Prints, in one run (root):
- connect: median time of NetworkManager.connect (veth into the netns, address, routes), ≥ 30 runs;
- requests/s and connect latency to busybox httpd containers through the published port on
  127.0.0.1 and on the host's address (DNAT balanced over 2 replicas) and directly to one
  container's address: same client, same run, paths interleaved.

Usage: .venv/bin/python bench/bench_network.py [--runs 30] [--seconds 3]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.gc import purge_instance
from runtime.image.bootstrap import ensure_base_images
from runtime.layout import HostLayout
from runtime.network import NetworkManager, NetworkSpec, PortBinding

IMAGE = "pyorch.local/busybox:latest"
REQUEST = b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n"


@dataclass
class PathTotals:
    rate: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0


def http_loop(host: str, port: int, seconds: float) -> tuple[float, float, int]:
    """Sequential HTTP/1.0 requests for ``seconds``: (requests/s, median connect ms, failures)."""
    connects: list[float] = []
    done = failures = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                connects.append(time.perf_counter() - t0)
                s.sendall(REQUEST)
                while s.recv(65536):
                    pass
            done += 1
        except OSError:
            failures += 1
    return done / seconds, statistics.median(connects) * 1000 if connects else float("nan"), failures


def host_address() -> str:
    """The host's own address on its default-route interface (traffic to it stays on the host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # a UDP connect sends nothing
        return str(s.getsockname()[0])


def wait_port(host: str, port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"{host}:{port} never answered")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pyorch-netbench-"))
    layout = HostLayout(state_root=tmp / "state", run_root=tmp / "run", instance="n" + secrets.token_hex(3))
    rt = ContainerRuntime(layout)
    nm = NetworkManager(layout)
    try:
        ensure_base_images(rt.images)
        nm.ensure_network(NetworkSpec(name="bench"))
        config = RunConfig(name="n", image=IMAGE, command=["sleep", "60"], init=False)
        samples = []
        for _ in range(args.runs):
            info = rt.create(config)
            t0 = time.perf_counter()
            nm.connect(info.id, info.record.pid, "bench")
            samples.append((time.perf_counter() - t0) * 1000)
            nm.disconnect(info.id, "bench")
            rt.remove(info.id, force=True)
        print(f"network setup per container (connect), median of {len(samples)}: "
              f"{statistics.median(samples):.2f} ms (min {min(samples):.2f}, max {max(samples):.2f})")

        web = RunConfig(name="w", image=IMAGE, command=["httpd", "-f", "-p", "80", "-h", "/www"], init=False)
        ips = []
        for _ in range(2):
            info = rt.create(web)
            ips.append(nm.connect(info.id, info.record.pid, "bench").ip)
            rt.start(info.id)
        port = nm.allocate_host_port()
        nm.publish("bench/web", [PortBinding(None, port, 80)], ips)
        changes = []
        for i in range(args.runs):  # a membership change: one nftables transaction (+ state file)
            t0 = time.perf_counter()
            nm.publish("bench/web", [PortBinding(None, port, 80)], ips if i % 2 else ips[:1])
            changes.append((time.perf_counter() - t0) * 1000)
        nm.publish("bench/web", [PortBinding(None, port, 80)], ips)
        print(f"publish (replace a key's backends), median of {len(changes)}: {statistics.median(changes):.2f} ms")
        wait_port("127.0.0.1", port)
        wait_port(ips[0], 80)
        paths = {"direct to container": (ips[0], 80), "published 127.0.0.1": ("127.0.0.1", port),
                 f"published {host_address()}": (host_address(), port)}
        totals = {name: PathTotals() for name in paths}
        rounds = 5  # interleaved, so warm-up and drift hit every path alike
        for _ in range(rounds):
            for name, (host, p) in paths.items():
                rate, latency, failures = http_loop(host, p, args.seconds / rounds)
                totals[name].rate += rate / rounds
                totals[name].latencies.append(latency)
                totals[name].failures += failures
        print(f"{'path':<28}{'req/s':>10}{'connect ms':>12}{'failures':>10}")
        for name, t in totals.items():
            print(f"{name:<28}{t.rate:>10.0f}{statistics.median(t.latencies):>12.3f}{t.failures:>10}")
        direct = totals["direct to container"]
        local = totals["published 127.0.0.1"]
        print(f"published 127.0.0.1 / direct: {local.rate / direct.rate:.2f}x requests/s, "
              f"{statistics.median(local.latencies) / statistics.median(direct.latencies):.2f}x connect latency")
    finally:
        rt.shim.close()
        nm.cleanup_all()
        purge_instance(layout)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
