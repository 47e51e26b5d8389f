"""Running a test with bridge netfilter on or off, and giving the host its own setting back.

`net.bridge.bridge-nf-call-iptables` decides whether frames switched inside a bridge traverse the
ip hooks; pyorch's rules must be right either way (docs/networking.md), so traffic tests run
under both. The value is saved and restored, also when the test fails; if br_netfilter has to be
loaded for "1", it is unloaded again afterwards. Without br_netfilter, "0" is what the host
already has. Suites of several engineers run side by side on one host: a host-wide lock keeps
two such tests from switching the value under each other (and from restoring each other's).
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SYSCTL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
LOCK = Path("/run/lock/pyorch-test-bridge-nf.lock")
VALUES = ("0", "1")


def _modprobe(*args: str) -> bool:
    try:
        return subprocess.run(["modprobe", *args], capture_output=True, check=False).returncode == 0
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def bridge_nf_call_iptables(value: str) -> Iterator[None]:
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with _switched(value):
            yield


@contextlib.contextmanager
def _switched(value: str) -> Iterator[None]:
    loaded_here = False
    if not SYSCTL.exists():
        if value == "0":
            yield  # no br_netfilter: bridged frames never reach the ip hooks, as with 0
            return
        if not _modprobe("br_netfilter") or not SYSCTL.exists():
            pytest.skip("br_netfilter cannot be loaded on this host: bridge-nf-call-iptables=1 cannot be tested")
        loaded_here = True
    before = SYSCTL.read_text().strip()
    try:
        try:
            SYSCTL.write_text(value)
        except OSError as exc:
            pytest.skip(f"this host does not let bridge-nf-call-iptables be set to {value}: {exc}")
        yield
    finally:
        SYSCTL.write_text(before)
        if loaded_here:
            _modprobe("-r", "br_netfilter")
