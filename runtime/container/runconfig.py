"""A request to run a container, in runtime terms, and how it combines with the image config."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field

from runtime.container.spec import LogSettings


@dataclass
class Resources:
    """Resource limits in the units the kernel wants (mirrors runtime.cgroups.Resources)."""

    memory_limit: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    nano_cpus: int | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    pids_limit: int | None = None


@dataclass
class Mount:
    """A mount into the container. ``source`` is a host path (bind) or a volume name (volume)."""

    type: str                     # bind | volume | tmpfs
    target: str
    source: str = ""
    read_only: bool = False
    create_host_path: bool = True
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None
    # volume: created with these when missing (Docker's local driver options and labels); options
    # None take the volume as it exists (an external volume)
    volume_driver: str = "local"
    volume_options: dict[str, str] | None = field(default_factory=dict)
    volume_labels: dict[str, str] = field(default_factory=dict)
    copy_image_content: bool = True   # an empty volume gets the image's files there (`nocopy` turns it off)


@dataclass
class AnonymousVolumes:
    """Where an image's VOLUME paths get volumes of their own: ``prefix`` + a hash of the path, so a
    recreated container finds the same ones (Compose carries them over to the new container)."""

    prefix: str
    labels: dict[str, str] = field(default_factory=dict)

    def name_for(self, target: str) -> str:
        return self.prefix + hashlib.sha256(posixpath.normpath(target).encode()).hexdigest()[:12]


@dataclass
class FileMount:
    """A secret or config: ``content`` (inline) or the host file ``source``, mounted read-only at
    ``target`` from the container's own tmpfs, owned ``uid:gid`` with ``mode``."""

    target: str
    source: str = ""
    content: str | None = None
    uid: int = 0
    gid: int = 0
    mode: int = 0o444


@dataclass
class DeviceMapping:
    """`devices:` — a host device node made available in the container."""

    source: str
    target: str | None = None        # default: the same path
    permissions: str | None = None   # from r, w, m; default rwm


@dataclass
class RunConfig:
    """What the engine asks the runtime for; ``None`` means "take the image's value"."""

    name: str
    image: str
    # Run exactly this image (its id); ``image`` stays the name the container shows. The engine
    # pins the id a tag named when `up` ran, so a tag moved since changes nothing until the next `up`.
    image_id: str | None = None
    entrypoint: list[str] | None = None
    command: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    hostname: str | None = None
    domainname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)
    stop_signal: str | None = None
    stop_grace_period: float = 10.0
    init: bool | None = None
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    read_only: bool = False
    no_new_privileges: bool = False
    shm_size: int | None = None
    extra_hosts: dict[str, str] = field(default_factory=dict)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    network_mode: str = ""        # "" own netns (caller attaches), none, host, container:<id>
    oom_score_adj: int | None = None
    mounts: list[Mount] = field(default_factory=list)
    # Security: None = the default seccomp profile; "unconfined"; or a path to a Docker JSON profile.
    seccomp: str | None = None
    sysctls: dict[str, str] = field(default_factory=dict)
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)   # name -> (soft, hard), -1 = unlimited
    group_add: list[str] = field(default_factory=list)
    devices: list[DeviceMapping] = field(default_factory=list)
    device_cgroup_rules: list[str] = field(default_factory=list)   # Docker syntax: "c 1:3 rwm"
    files: list[FileMount] = field(default_factory=list)           # secrets and configs
    log: LogSettings = field(default_factory=LogSettings)
    tty: bool = False
    stdin_open: bool = False
    console_size: tuple[int, int] | None = None   # rows, columns of the pty when it is made
    # The image's VOLUME paths: None leaves them in the root filesystem (build steps, as Docker's builder)
    image_volumes: AnonymousVolumes | None = None


def command_line(
    entrypoint: list[str] | None,
    command: list[str] | None,
    image_entrypoint: list[str] | None,
    image_cmd: list[str] | None,
) -> list[str]:
    """Docker's rule: a new entrypoint discards the image's Cmd unless a command is given too."""
    if entrypoint is not None:
        return [*entrypoint, *(command or [])]
    return [*(image_entrypoint or []), *(command if command is not None else (image_cmd or []))]


def merge_env(image_env: list[str], overrides: dict[str, str]) -> list[str]:
    merged: dict[str, str] = {}
    for item in image_env:
        key, _, value = item.partition("=")
        merged[key] = value
    merged.update(overrides)
    return [f"{k}={v}" for k, v in merged.items()]
