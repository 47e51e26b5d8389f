"""`network_mode`: which network namespace a container runs in, and whose network files it sees.

- "" (the default) and "none": a new network namespace; the caller attaches networks (none: only lo);
- "host": the engine's own network namespace, the host's /etc/hosts and resolv.conf, its hostname;
- "container:<id>": the namespace of another running container, whose hosts, resolv.conf and
  hostname files are bind-mounted too (Docker shares them the same way).

The path of the namespace to join is worked out at every spawn (create and restart), because the
process holding it changes when that container restarts.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from runtime.container.state import is_alive, load_record
from runtime.errors import ContainerStateError, RuntimeFailure

JOIN = "container:"


def check_mode(mode: str) -> None:
    if mode not in ("", "none", "host") and not (mode.startswith(JOIN) and len(mode) > len(JOIN)):
        raise RuntimeFailure(f"unknown network mode {mode!r} (none, host or container:<id>)")


def joined_bundle(mode: str, containers_dir: Path) -> Path | None:
    """The bundle of the container whose namespace ``mode`` joins, or None."""
    return containers_dir / mode[len(JOIN):] if mode.startswith(JOIN) else None


def netns_path(mode: str, containers_dir: Path) -> str:
    """The namespace file stage 2 enters first; "" for a namespace of its own."""
    check_mode(mode)
    if mode == "host":
        return f"/proc/{os.getpid()}/ns/net"  # the engine's: the host's, or a test's private one
    bundle = joined_bundle(mode, containers_dir)
    if bundle is None:
        return ""
    record = load_record(bundle)
    if record is None or not is_alive(record) or not record.started_at:
        raise ContainerStateError(f"network_mode {mode}: that container is not running")
    return f"/proc/{record.pid}/ns/net"


def default_hostname(mode: str, cid: str, containers_dir: Path) -> str:
    """Docker's choice when no hostname is given: the host's, the joined container's, or the short id."""
    if mode == "host":
        return socket.gethostname()
    bundle = joined_bundle(mode, containers_dir)
    if bundle is not None:
        try:
            return (bundle / "hostname").read_text().strip() or cid[:12]
        except OSError:
            pass
    return cid[:12]


def host_files(extra_hosts: dict[str, str]) -> tuple[str, str]:
    """(/etc/hosts, /etc/resolv.conf) for host networking: the host's own, plus `extra_hosts`."""
    try:
        hosts = Path("/etc/hosts").read_text()
    except OSError:
        hosts = "127.0.0.1\tlocalhost\n"
    if hosts and not hosts.endswith("\n"):
        hosts += "\n"
    hosts += "".join(f"{ip}\t{host}\n" for host, ip in extra_hosts.items())
    try:
        resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        resolv = ""
    return hosts, resolv
