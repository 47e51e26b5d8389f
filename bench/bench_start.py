"""Container start latency: pyorch against `crun run` of the same root filesystem, same run.

Measured, as medians over N runs (interleaved, order shuffled each round, as the peers were
measured in shared/reference/peers-measured.md §3.1):

- pyorch to execve: `create` + `start` until the shim reports the exec succeeded (namespaces,
  overlay root, mounts, pivot_root, capabilities, cgroup with limits, init);
- pyorch to execve with networking: the same plus a veth into the container on a bridge;
- pyorch full cycle: to execve, wait for the exit, remove (what `crun run` + delete covers);
- pyorch unconfined: to execve without a seccomp filter (what the default profile costs);
- crun run: `crun run` of a bundle with the same busybox rootfs running /bin/true (new netns);
- crun run+seccomp: the same with pyorch's default profile handed to crun in OCI form, so both
  sides install an equivalent filter (Docker's profile is what users of either get by default).

Usage (root): .venv/bin/python bench/bench_start.py [--runs 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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


def make_crun_work_on_hybrid_hosts() -> None:
    """crun 1.8 refuses hybrid hosts whose cgroup2 lists controllers (hugetlb here). Binding hugetlb to a
    v1 hierarchy, as systemd does on hybrid hosts, empties that list (peers-measured.md §2.2). The
    kernel keeps hugetlb on v1 until reboot; pyorch does not use hugetlb."""
    controllers = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    if not controllers.exists() or not controllers.read_text().strip():
        return
    target = Path("/sys/fs/cgroup/hugetlb")
    target.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", str(target)], check=True)
    subprocess.run(["umount", str(target)], check=True)
    target.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pyorch-bench-"))
    layout = HostLayout(state_root=tmp / "state", run_root=tmp / "run", instance="b" + secrets.token_hex(3))
    rt = ContainerRuntime(layout)
    try:
        ensure_base_images(rt.images)
        image = rt.images.resolve(IMAGE)
        make_crun_work_on_hybrid_hosts()
        bundle = crun_bundle(image.layer_dirs[-1], tmp)
        bundle_seccomp = crun_bundle(image.layer_dirs[-1], tmp, seccomp=True)
        nm = NetworkManager(layout)
        nm.ensure_network(NetworkSpec(name="bench", subnet=None, gateway=None, internal=False, labels={}))
        rt.shim.ensure_running()
        config = RunConfig(name="b", image=IMAGE, command=["/bin/true"], init=False,
                           resources=Resources(memory_limit=64 << 20, pids_limit=100))
        unconfined = dataclasses.replace(config, seccomp="unconfined")
        samples: dict[str, list[float]] = {k: [] for k in ("pyorch", "pyorch+net", "pyorch full", "pyorch unconfined",
                                                           "crun run", "crun run+seccomp")}

        def pyorch_start(net: bool, full: bool, run: RunConfig = config) -> float:
            t0 = time.perf_counter()
            info = rt.create(run)
            if net:
                nm.connect(info.id, info.record.pid, "bench")
            rt.start(info.id)
            t1 = time.perf_counter()
            if full:
                while rt.inspect(info.id).status != "exited":
                    time.sleep(0.0005)
            if net:
                nm.disconnect(info.id, "bench")
            rt.remove(info.id, force=True)
            t2 = time.perf_counter()
            return (t2 - t0 if full else t1 - t0) * 1000

        def crun_run(where: Path) -> float:
            name = "pyorch-bench-" + secrets.token_hex(4)
            t0 = time.perf_counter()
            subprocess.run(["crun", "run", "--bundle", str(where), name], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return (time.perf_counter() - t0) * 1000

        tasks: dict[str, Callable[[], float]] = {
            "pyorch": lambda: pyorch_start(False, False),
            "pyorch+net": lambda: pyorch_start(True, False),
            "pyorch full": lambda: pyorch_start(False, True),
            "pyorch unconfined": lambda: pyorch_start(False, False, unconfined),
            "crun run": lambda: crun_run(bundle),
            "crun run+seccomp": lambda: crun_run(bundle_seccomp),
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
        print(f"{'what':<19}{'median':>9}{'min':>9}{'max':>9}{'÷ crun run':>12}{'÷ crun+seccomp':>16}")
        for name, values in samples.items():
            med = statistics.median(values)
            print(f"{name:<19}{med:>9.2f}{min(values):>9.2f}{max(values):>9.2f}{med / crun:>12.2f}"
                  f"{med / crun_seccomp:>16.2f}")
    finally:
        rt.shim.close()
        purge_instance(layout)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
