"""Which sysctls a container may set: only those its own namespaces isolate (runc's rule)."""

from __future__ import annotations

from runtime.errors import ConfigurationError


class SysctlNotAllowed(ConfigurationError):
    """A sysctl that is not namespaced, or not isolated for this container."""


# IPC-namespaced kernel parameters (ipc/ipc_sysctl.c): everything else under kernel.* is global.
_IPC_KERNEL_KEYS = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
    "kernel.shmmni", "kernel.shm_rmid_forced",
})


def check_sysctls(sysctls: dict[str, str], *, private_network: bool, private_ipc: bool = True) -> None:
    """Refuse, before anything starts, a sysctl that would change the host instead of the container."""
    for key in sysctls:
        name = key.replace("/", ".")
        if name in ("kernel.hostname", "kernel.domainname"):
            raise SysctlNotAllowed(f"sysctl {key}: set `hostname`/`domainname` instead")
        if name in _IPC_KERNEL_KEYS or name.startswith("fs.mqueue."):
            if not private_ipc:
                raise SysctlNotAllowed(f"sysctl {key}: the container shares the host's IPC namespace")
            continue
        if name.startswith("net."):
            if not private_network:
                raise SysctlNotAllowed(f"sysctl {key}: the container uses the host's network namespace")
            continue
        raise SysctlNotAllowed(f"sysctl {key} is not namespaced: it would change the host, so it is refused "
                               "(allowed: net.*, fs.mqueue.*, kernel.msg*, kernel.sem, kernel.shm*)")
