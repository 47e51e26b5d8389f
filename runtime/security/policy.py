"""From a run request to the security settings of one container, checked before anything exists."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from runtime.cgroups import Cgroup
from runtime.container.spec import DeviceNode
from runtime.security import devices, devices_bpf
from runtime.security.device_requests import host_device, parse_cgroup_rule
from runtime.security.seccomp import compile_profile, load_profile_file
from runtime.security.seccomp_default import default_profile
from runtime.security.sysctls import check_sysctls
from runtime.security.ulimits import check_ulimits


@dataclass
class SecurityPlan:
    seccomp_path: str                       # "" = unconfined
    rlimits: list[tuple[str, int, int]]
    sysctls: dict[str, str]
    device_nodes: list[DeviceNode] = field(default_factory=list)
    device_rules: tuple[devices.DeviceRule, ...] = ()   # allowed beyond the default list


def plan_security(
    *,
    seccomp: str | None,
    privileged: bool,
    capabilities: list[str],
    sysctls: dict[str, str],
    ulimits: dict[str, tuple[int, int]],
    cache_dir: Path,
    private_network: bool = True,
    device_mappings: list[tuple[str, str | None, str | None]] | None = None,
    device_cgroup_rules: list[str] | None = None,
) -> SecurityPlan:
    """Validate and compile; raises a RuntimeFailure subclass with the reason on bad input."""
    check_sysctls(sysctls, private_network=private_network)
    rlimits = check_ulimits(ulimits)
    nodes: list[DeviceNode] = []
    rules = [parse_cgroup_rule(text) for text in device_cgroup_rules or []]
    for source, target, permissions in device_mappings or []:
        node, rule = host_device(source, target, permissions)
        nodes.append(node)
        rules.append(rule)
    path = ""
    if not privileged and seccomp != "unconfined":
        if seccomp in (None, "", "default"):
            path = _default_filter(tuple(sorted(capabilities)), cache_dir)
        else:
            path = str(compile_profile(load_profile_file(Path(seccomp)), capabilities, cache_dir).path)
    return SecurityPlan(path, rlimits, dict(sysctls), nodes, tuple(rules))


_default_filters: dict[tuple[tuple[str, ...], Path], str] = {}


def _default_filter(capabilities: tuple[str, ...], cache_dir: Path) -> str:
    """The compiled default profile, remembered per process: finding it in the cache directory
    hashes the whole profile (~0.3 ms), paid once instead of on every start."""
    key = (capabilities, cache_dir)
    path = _default_filters.get(key)
    if path is None or not os.path.exists(path):
        path = str(compile_profile(default_profile(), list(capabilities), cache_dir).path)
        _default_filters[key] = path
    return path


def restrict_devices(cgroup: Cgroup, privileged: bool, enforcement: str,
                     extra: tuple[devices.DeviceRule, ...] = ()) -> None:
    """Install the device allowlist on the container's cgroup, the way the start-up probe chose.

    `enforcement` is `runtime.features.KernelFeatures.devices`: the v1 controller where the host
    has one (runc's choice on hybrid hosts too), else an eBPF program on the cgroup2 leaf.
    """
    rules = devices.ALLOW_ALL if privileged else devices.DEFAULT_RULES + extra
    v1_dir = cgroup.v1_dirs.get("devices")
    if enforcement == "cgroup-v1" and v1_dir is not None:
        devices.apply_v1(v1_dir, rules)
    elif enforcement == "ebpf" and cgroup.unified is not None:
        devices_bpf.apply_v2(cgroup.unified, rules)
