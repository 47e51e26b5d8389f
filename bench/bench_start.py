"""Container start latency: pyorch against `crun run` of the same root filesystem, same run.

Measured, as medians over N runs (interleaved, order shuffled each round, as the peers were
measured in shared/reference/peers-measured.md §3.1):

- pyorch to execve: `create` + `start` until the shim reports the exec succeeded (namespaces,
  overlay root, mounts, pivot_root, capabilities, cgroup with limits, init);
- pyorch to execve with networking: the same plus a veth into the container on a bridge;
- pyorch full cycle: to execve, wait for the exit, remove (what `crun run` + delete covers);
- pyorch unconfined: to execve without a seccomp filter (what the default profile costs);
- pyorch cold: to execve with the shim's warm process turned off (PYORCH_WARM=0), so the create
  pays for forking stage 1 and 2 and for the UTS/IPC/network/PID namespaces itself;
- crun run: `crun run` of a bundle with the same busybox rootfs running /bin/true (new netns);
- crun run+seccomp: the same with pyorch's default profile handed to crun in OCI form, so both
  sides install an equivalent filter (Docker's profile is what users of either get by default);
- pyorch full+net: the full cycle with a veth on a bridge (create, attach, start, exit, detach,
  remove);
- crun start+net: crun with the same networking done the way crun users do it (crun has none of
  its own; CNI plugins and podman's netavark are separate programs): a named netns, a veth onto a
  bridge, address, lo and the default route with `ip`, then `crun create` and `crun start` in that
  netns, to when `crun start` returns (the process is told to exec). Compare with "pyorch+net";
- crun run+net: the same networking, `crun run` to the exit, the netns deleted — as
  reference/peers-measured.md §3.2 measured it. Compare with "pyorch full+net".

Usage (root): .venv/bin/python bench/bench_start.py [--runs 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.container.runconfig import Resources, RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.container.spec import DEFAULT_CAPABILITIES
from runtime.gc import purge_instance
from runtime.image.bootstrap import ensure_base_images
from runtime.layout import HostLayout
from runtime.network import NetworkManager, NetworkSpec
from runtime.security.seccomp import applicable_rules
from runtime.security.seccomp_default import default_profile

IMAGE = "pyorch.local/busybox:latest"


def oci_seccomp() -> dict[str, Any]:
    """pyorch's default profile for this machine, as an OCI `linux.seccomp` section."""
    arches = {"x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
              "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]}.get(platform.machine(), [])
    profile = default_profile()
    rules = [{k: v for k, v in rule.items() if k in ("names", "action", "args", "errnoRet")}
             for rule in applicable_rules(profile, sorted(DEFAULT_CAPABILITIES))]
    return {"defaultAction": profile["defaultAction"], "defaultErrnoRet": profile["defaultErrnoRet"],
            "architectures": arches, "syscalls": rules}


def crun_bundle(rootfs: Path, where: Path, seccomp: bool = False) -> Path:
    bundle = where / ("crun-bundle-seccomp" if seccomp else "crun-bundle")
    bundle.mkdir()
    subprocess.run(["crun", "spec"], cwd=bundle, check=True)
    config = json.loads((bundle / "config.json").read_text())
    config["root"] = {"path": str(rootfs), "readonly": True}
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    if seccomp:
        config["linux"]["seccomp"] = oci_seccomp()
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def crun_bundle_in_netns(rootfs: Path, where: Path, netns: str) -> Path:
    """A bundle whose network namespace is the named one (`ip netns add`), not a new one."""
    bundle = crun_bundle(rootfs, where / "in-netns")
    config = json.loads((bundle / "config.json").read_text())
    namespaces = [ns for ns in config["linux"]["namespaces"] if ns["type"] != "network"]
    config["linux"]["namespaces"] = [*namespaces, {"type": "network", "path": f"/var/run/netns/{netns}"}]
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def make_crun_work_on_hybrid_hosts() -> Path | None:
    """crun 1.8 refuses hybrid hosts whose cgroup2 lists controllers (hugetlb here); binding hugetlb to
    a v1 hierarchy, as systemd does on hybrid hosts, empties that list (peers-measured.md §2.2). Once
    bound, crun also makes a cgroup for each container under /sys/fs/cgroup/hugetlb, on the tmpfs if
    nothing is mounted there (and leaves it), so the hierarchy is mounted there for the benchmark.
    Returns the mount point to give back with `restore_hugetlb`. pyorch does not use hugetlb."""
    controllers = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    target = Path("/sys/fs/cgroup/hugetlb")
    if not controllers.exists() or target.is_mount():
        return None
    on_v2 = "hugetlb" in controllers.read_text().split()
    on_hidden_v1 = any(line.split(":")[1] == "hugetlb" for line in Path("/proc/self/cgroup").read_text().splitlines())
    if not (on_v2 or on_hidden_v1):
        return None
    target.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", str(target)], check=True)
    return target


def restore_hugetlb(target: Path) -> None:
    """Remove what crun left in the hierarchy, unmount it and remove the mount point."""
    for child in target.iterdir():
        if child.is_dir():
            try:
                child.rmdir()
            except OSError:
                pass
    subprocess.run(["umount", str(target)], check=False)
    try:
        target.rmdir()
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pyorch-bench-"))
    layout = HostLayout(state_root=tmp / "state", run_root=tmp / "run", instance="b" + secrets.token_hex(3))
    rt = ContainerRuntime(layout)
    cold_layout = HostLayout(state_root=tmp / "state-cold", run_root=tmp / "run-cold", instance=layout.instance + "c")
    rt_cold = ContainerRuntime(cold_layout, rt.images)
    hugetlb: Path | None = None
    try:
        ensure_base_images(rt.images)
        image = rt.images.resolve(IMAGE)
        hugetlb = make_crun_work_on_hybrid_hosts()
        bundle = crun_bundle(image.layer_dirs[-1], tmp)
        bundle_seccomp = crun_bundle(image.layer_dirs[-1], tmp, seccomp=True)
        nm = NetworkManager(layout)
        nm.ensure_network(NetworkSpec(name="bench", subnet=None, gateway=None, internal=False, labels={}))
        # A second network whose bridge only the crun runs use, so their fixed address never meets
        # pyorch's allocations.
        peer_net = nm.ensure_network(NetworkSpec(name="bench-crun", subnet=None, gateway=None, internal=False,
                                                 labels={}))
        peer_ns = "pyorch-bench-" + secrets.token_hex(3)
        (tmp / "in-netns").mkdir()
        bundle_netns = crun_bundle_in_netns(image.layer_dirs[-1], tmp, peer_ns)
        peer_ip = str(ipaddress.ip_network(peer_net.subnet)[200])
        peer_prefix = ipaddress.ip_network(peer_net.subnet).prefixlen
        rt.shim.ensure_running()
        os.environ["PYORCH_WARM"] = "0"  # this runtime's shim forks every container on demand
        try:
            rt_cold.shim.ensure_running()
        finally:
            del os.environ["PYORCH_WARM"]
        config = RunConfig(name="b", image=IMAGE, command=["/bin/true"], init=False,
                           resources=Resources(memory_limit=64 << 20, pids_limit=100))
        unconfined = dataclasses.replace(config, seccomp="unconfined")
        samples: dict[str, list[float]] = {k: [] for k in (
            "pyorch", "pyorch+net", "pyorch full", "pyorch full+net", "pyorch unconfined", "pyorch cold",
            "crun run", "crun run+seccomp", "crun start+net", "crun run+net")}

        def pyorch_start(net: bool, full: bool, run: RunConfig = config, rt: ContainerRuntime = rt) -> float:
            t0 = time.perf_counter()
            # As the engine does: the veth is plumbed while the container's root is being built.
            info = rt.create(run, on_pid=(lambda cid, pid: nm.connect(cid, pid, "bench")) if net else None)
            rt.start(info.id)
            t1 = time.perf_counter()
            if full:
                while rt.inspect(info.id).status != "exited":
                    time.sleep(0.0005)
            rt.remove(info.id, force=True)
            if net:  # as the engine removes a container: the veth goes with the netns
                nm.release_addresses([(info.id, "bench")])
                nm.await_veths_gone([(info.id, "bench")])
            t2 = time.perf_counter()
            return (t2 - t0 if full else t1 - t0) * 1000

        def crun_run(where: Path) -> float:
            name = "pyorch-bench-" + secrets.token_hex(4)
            t0 = time.perf_counter()
            subprocess.run(["crun", "run", "--bundle", str(where), name], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return (time.perf_counter() - t0) * 1000

        def crun_with_network(full: bool) -> float:
            """``full``: `crun run` to the exit and the netns deleted; else `crun create` + `crun start`
            (which returns once the container's process is told to exec), cleaned up untimed."""
            ip = ["ip"]
            veth = "pbc" + secrets.token_hex(3)
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            t0 = time.perf_counter()
            for args in (["netns", "add", peer_ns],
                         ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", peer_ns],
                         ["link", "set", veth, "master", peer_net.bridge, "up"],
                         ["-n", peer_ns, "addr", "add", f"{peer_ip}/{peer_prefix}", "dev", "eth0"],
                         ["-n", peer_ns, "link", "set", "eth0", "up"],
                         ["-n", peer_ns, "link", "set", "lo", "up"],
                         ["-n", peer_ns, "route", "add", "default", "via", peer_net.gateway]):
                subprocess.run([*ip, *args], check=True)
            name = "pyorch-bench-" + secrets.token_hex(4)
            if full:
                subprocess.run(["crun", "run", "--bundle", str(bundle_netns), name], check=True, **quiet)
                subprocess.run([*ip, "netns", "del", peer_ns], check=True)  # the veth goes with it
                return (time.perf_counter() - t0) * 1000
            subprocess.run(["crun", "create", "--bundle", str(bundle_netns), name], check=True, **quiet)
            subprocess.run(["crun", "start", name], check=True, **quiet)
            elapsed = (time.perf_counter() - t0) * 1000
            subprocess.run(["crun", "delete", "--force", name], check=True, **quiet)
            subprocess.run([*ip, "netns", "del", peer_ns], check=True)
            return elapsed

        tasks: dict[str, Callable[[], float]] = {
            "pyorch": lambda: pyorch_start(False, False),
            "pyorch+net": lambda: pyorch_start(True, False),
            "pyorch full": lambda: pyorch_start(False, True),
            "pyorch full+net": lambda: pyorch_start(True, True),
            "pyorch unconfined": lambda: pyorch_start(False, False, unconfined),
            "pyorch cold": lambda: pyorch_start(False, False, rt=rt_cold),
            "crun run": lambda: crun_run(bundle),
            "crun run+seccomp": lambda: crun_run(bundle_seccomp),
            "crun start+net": lambda: crun_with_network(False),
            "crun run+net": lambda: crun_with_network(True),
        }
        for task in tasks.values():  # warm-up
            task()
            task()
        per_round = 5
        rounds = max(1, -(-args.runs // per_round))
        for _ in range(rounds):
            order = list(tasks)
            random.shuffle(order)
            for name in order:
                for _ in range(per_round):
                    samples[name].append(tasks[name]())
        crun = statistics.median(samples["crun run"])
        print(f"container start latency, median of {rounds * per_round} runs each (ms)")
        crun_seccomp = statistics.median(samples["crun run+seccomp"])
        crun_start_net = statistics.median(samples["crun start+net"])
        crun_net = statistics.median(samples["crun run+net"])
        print(f"{'what':<19}{'median':>9}{'min':>9}{'max':>9}{'÷ crun run':>12}{'÷ crun+seccomp':>16}"
              f"{'÷ crun start+net':>18}{'÷ crun run+net':>16}")
        for name, values in samples.items():
            med = statistics.median(values)
            print(f"{name:<19}{med:>9.2f}{min(values):>9.2f}{max(values):>9.2f}{med / crun:>12.2f}"
                  f"{med / crun_seccomp:>16.2f}{med / crun_start_net:>18.2f}{med / crun_net:>16.2f}")
    finally:
        subprocess.run(["ip", "netns", "del", peer_ns], stderr=subprocess.DEVNULL, check=False)
        rt.shim.close()
        rt_cold.shim.close()
        purge_instance(cold_layout)
        purge_instance(layout)
        if hugetlb is not None:
            restore_hugetlb(hugetlb)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
