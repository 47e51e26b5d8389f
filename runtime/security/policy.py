"""From a run request to the security settings of one container, checked before anything exists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.cgroups import Cgroup
from runtime.security import devices, devices_bpf
from runtime.security.seccomp import compile_profile, load_profile_file
from runtime.security.seccomp_default import default_profile
from runtime.security.sysctls import check_sysctls
from runtime.security.ulimits import check_ulimits


@dataclass
class SecurityPlan:
    seccomp_path: str                       # "" = unconfined
    rlimits: list[tuple[str, int, int]]
    sysctls: dict[str, str]


def plan_security(
    *,
    seccomp: str | None,
    privileged: bool,
    capabilities: list[str],
    sysctls: dict[str, str],
    ulimits: dict[str, tuple[int, int]],
    cache_dir: Path,
    private_network: bool = True,
) -> SecurityPlan:
    """Validate and compile; raises a RuntimeFailure subclass with the reason on bad input."""
    check_sysctls(sysctls, private_network=private_network)
    rlimits = check_ulimits(ulimits)
    path = ""
    if not privileged and seccomp != "unconfined":
        profile: dict[str, Any] = default_profile() if seccomp in (None, "", "default") \
            else load_profile_file(Path(seccomp))
        path = str(compile_profile(profile, capabilities, cache_dir).path)
    return SecurityPlan(path, rlimits, dict(sysctls))


def restrict_devices(cgroup: Cgroup, privileged: bool, enforcement: str) -> None:
    """Install the device allowlist on the container's cgroup, the way the start-up probe chose.

    `enforcement` is `runtime.features.KernelFeatures.devices`: the v1 controller where the host
    has one (runc's choice on hybrid hosts too), else an eBPF program on the cgroup2 leaf.
    """
    rules = devices.ALLOW_ALL if privileged else devices.DEFAULT_RULES
    v1_dir = cgroup.v1_dirs.get("devices")
    if enforcement == "cgroup-v1" and v1_dir is not None:
        devices.apply_v1(v1_dir, rules)
    elif enforcement == "ebpf" and cgroup.unified is not None:
        devices_bpf.apply_v2(cgroup.unified, rules)
