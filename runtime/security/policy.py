"""From a run request to the security settings of one container, checked before anything exists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.cgroups import Cgroup
from runtime.security import devices
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


def restrict_devices(cgroup: Cgroup, privileged: bool) -> str:
    """Install the device allowlist on the container's cgroup; returns how it is enforced."""
    rules = devices.ALLOW_ALL if privileged else devices.DEFAULT_RULES
    directory = cgroup.v1_dirs.get("devices")
    if directory is not None:
        devices.apply_v1(directory, rules)
        return "cgroup-v1"
    return "none"
