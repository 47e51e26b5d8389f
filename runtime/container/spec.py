"""What a container is made of, as the runtime sees it: no Compose inside.

`ContainerSpec` travels as JSON from the engine to the shim, so it holds only plain data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Docker's default capability set (moby daemon/pkg/oci/caps/defaults.go): bit numbers.
CAPABILITY_NUMBERS: dict[str, int] = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
    "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15,
    "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20,
    "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30,
    "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
    "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)

MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
    "/sys/devices/virtual/powercap", "/sys/firmware",
)
READONLY_PATHS: tuple[str, ...] = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def capability_mask(names: list[str] | tuple[str, ...]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITY_NUMBERS[name.upper().removeprefix("CAP_")]
    return mask


@dataclass
class BindMount:
    source: str
    target: str
    read_only: bool = False
    populate: bool = False   # an empty volume gets the image's content at target (runtime/volume/copy_up.py)
    volume: str = ""         # the volume it mounts, if any (`volume ls` finds its users by it)


@dataclass
class TmpfsMount:
    target: str
    size: int | None = None
    mode: int | None = None
    options: str = ""        # more mount data, e.g. a tmpfs volume's "uid=1000,nr_inodes=1k"
    populate: bool = False
    volume: str = ""


@dataclass
class FileSpec:
    """A secret or config: read from ``source`` (a host path) at each start into the container's
    own tmpfs, mounted read-only at ``target`` (runtime/container/file_mounts.py)."""

    source: str
    target: str
    uid: int = 0
    gid: int = 0
    mode: int = 0o444


@dataclass
class DeviceNode:
    """A device node to create in the container (`devices:`), with the host node's numbers and owner."""

    path: str
    kind: str        # "c" or "b"
    major: int
    minor: int
    mode: int        # permission bits of the host node
    uid: int
    gid: int


@dataclass
class LogSettings:
    """How the shim keeps a container's output (logfile.py); the default caps every container."""

    driver: str = "local"            # local or json-file: rotated files; none: nothing is kept
    max_size: int = 20 << 20         # bytes a file may reach before it rotates; 0: no limit
    max_files: int = 5               # files kept, the current one included
    compress: bool = True            # rotated files are gzipped


@dataclass
class ContainerSpec:
    """Everything the shim needs to create one container."""

    id: str
    name: str
    bundle_dir: str                  # per-container state directory (upper/work dirs, files, log)
    lower_dirs: list[str]            # image layers, top layer first (overlay lowerdir order)
    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: str = ""                   # "uid[:gid]" or names, resolved inside the rootfs
    hostname: str = ""
    domainname: str = ""
    capabilities: list[str] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    no_new_privileges: bool = False
    read_only_rootfs: bool = False
    cgroup_procs_files: list[str] = field(default_factory=list)
    binds: list[BindMount] = field(default_factory=list)
    tmpfs: list[TmpfsMount] = field(default_factory=list)
    init_path: str = ""              # host path of a static init to run as PID 1, "" for none
    shm_size: int = 64 * 1024 * 1024
    oom_score_adj: int | None = None
    log_path: str = ""
    privileged: bool = False         # all devices allowed, no masked or read-only paths
    seccomp_path: str = ""           # compiled BPF program to install before exec; "" = unconfined
    sysctls: dict[str, str] = field(default_factory=dict)   # namespaced only, checked by the runtime
    rlimits: list[tuple[str, int, int]] = field(default_factory=list)  # (RLIMIT_ name, soft, hard)
    group_add: list[str] = field(default_factory=list)     # extra groups, numeric or names
    masked_paths: list[str] = field(default_factory=lambda: list(MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(READONLY_PATHS))
    device_nodes: list[DeviceNode] = field(default_factory=list)
    device_rules: list[str] = field(default_factory=list)  # allowed beyond the default list ("c 1:3 rwm")
    network_mode: str = ""           # "", none, host, container:<id> (runtime/container/netmode.py)
    netns_path: str = ""             # the namespace stage 2 joins first; worked out at every spawn
    files: list[FileSpec] = field(default_factory=list)     # secrets and configs
    log: LogSettings = field(default_factory=LogSettings)
    tty: bool = False                # a pty for stdin, stdout and stderr (its master stays in the shim)
    stdin_open: bool = False         # input from attached clients (a pipe, or the pty)
    console_size: list[int] | None = None  # [rows, columns] of the pty when it is made

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ContainerSpec:
        binds = [BindMount(**b) for b in raw.pop("binds", [])]
        tmpfs = [TmpfsMount(**t) for t in raw.pop("tmpfs", [])]
        rlimits = [(str(n), int(s), int(h)) for n, s, h in raw.pop("rlimits", [])]
        nodes = [DeviceNode(**d) for d in raw.pop("device_nodes", [])]
        files = [FileSpec(**f) for f in raw.pop("files", [])]
        log = LogSettings(**raw.pop("log", {}))
        return cls(binds=binds, tmpfs=tmpfs, rlimits=rlimits, device_nodes=nodes, files=files, log=log, **raw)
