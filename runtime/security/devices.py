"""The device allowlist: which device nodes a container may create, read and write.

Docker's default: any node may be created (mknod), but only the standard character devices
(null, zero, full, random, urandom, tty, console, ptmx, pts, net/tun) may be opened. On cgroup v1
the `devices` controller enforces it; on cgroup v2 an eBPF program does (`devices_bpf`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import ConfigurationError


class DeviceRuleError(ConfigurationError):
    """The allowlist could not be installed."""


@dataclass(frozen=True)
class DeviceRule:
    kind: str            # "c", "b" or "a" (all)
    major: int | None    # None = any
    minor: int | None
    access: str          # subset of "rwm"

    def v1_line(self) -> str:
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.kind} {major}:{minor} {self.access}"


DEFAULT_RULES: tuple[DeviceRule, ...] = (
    DeviceRule("c", None, None, "m"), DeviceRule("b", None, None, "m"),
    DeviceRule("c", 1, 3, "rwm"), DeviceRule("c", 1, 5, "rwm"), DeviceRule("c", 1, 7, "rwm"),
    DeviceRule("c", 1, 8, "rwm"), DeviceRule("c", 1, 9, "rwm"), DeviceRule("c", 5, 0, "rwm"),
    DeviceRule("c", 5, 1, "rwm"), DeviceRule("c", 5, 2, "rwm"), DeviceRule("c", 136, None, "rwm"),
    DeviceRule("c", 10, 200, "rwm"),
)
ALLOW_ALL: tuple[DeviceRule, ...] = (DeviceRule("a", None, None, "rwm"),)


def apply_v1(devices_dir: Path, rules: tuple[DeviceRule, ...]) -> None:
    """Deny everything, then allow the rules. Not atomic: a process already in the cgroup (the
    shim's warm PID 1 in a spare) must not make or open a device until this returns (stage 2
    waits for the client's `attached`, which comes after)."""
    try:
        if rules == ALLOW_ALL:
            (devices_dir / "devices.allow").write_text("a")
            return
        (devices_dir / "devices.deny").write_text("a")
        # One open for every rule: the kernel takes each write() as one rule (~a dozen per container).
        fd = os.open(devices_dir / "devices.allow", os.O_WRONLY | os.O_CLOEXEC)
        try:
            for rule in rules:
                os.write(fd, rule.v1_line().encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise DeviceRuleError(f"device allowlist in {devices_dir}: {exc.strerror}") from exc
