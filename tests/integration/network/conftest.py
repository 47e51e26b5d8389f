"""A private network instance per test, stand-in containers, and a leak check for this instance.

The leak check looks only for names this test's instance could have created (its bridges, veths,
nftables table, state directory), so engineers running other suites on the same host at the same
time cannot make it fail, and it cannot miss what this test left behind.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from runtime.network import Attachment, NetworkManager

CLONE_NEWNET = 0x40000000
STANDIN = Path(__file__).with_name("standin.py")
TCP_PORT = 8080
UDP_PORT = 5353


def _enter_new_netns() -> None:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")


@dataclass
class Standin:
    """A process in its own netns serving TCP_PORT/UDP_PORT; ``gate`` releases held responses."""

    name: str
    process: subprocess.Popen[str]
    gate: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        (self.gate / "release").touch()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@dataclass
class Harness:
    layout: HostLayout
    nm: NetworkManager
    workdir: Path
    standins: list[Standin] = field(default_factory=list)
    networks: set[str] = field(default_factory=set)
    endpoints: set[tuple[str, str]] = field(default_factory=set)

    def container(self, name: str) -> Standin:
        gate = self.workdir / f"gate-{name}"
        gate.mkdir()
        process = subprocess.Popen(
            [sys.executable, str(STANDIN), name, str(TCP_PORT), str(UDP_PORT), str(gate)],
            stdout=subprocess.PIPE, text=True, preexec_fn=_enter_new_netns,
        )
        standin = Standin(name, process, gate)
        self.standins.append(standin)
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        return standin

    def connect(self, standin: Standin, network: str, **kwargs: object) -> Attachment:
        self.networks.add(network)
        self.endpoints.add((standin.name, network))
        return self.nm.connect(standin.name, standin.pid, network, **kwargs)  # type: ignore[arg-type]

    def leftovers(self) -> list[str]:
        """Everything of this instance still in the kernel or on disk."""
        names = {self.layout.bridge_name(n) for n in self.networks}
        names |= {self.layout.veth_name(c, n) for c, n in self.endpoints}
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                               check=True).stdout.splitlines()
        alias = f"pyorch:{self.layout.instance}"
        found = [line.split(": ")[1] for line in links
                 if line.split(": ")[1].split("@")[0] in names or line.rstrip().endswith(f"alias {alias}")]
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                                check=True).stdout.split("\n")
        found += [t for t in tables if t.strip() in (f"table ip {self.layout.nft_table}",
                                                      f"table bridge {self.layout.nft_table}")]
        if self.layout.networks_dir.exists():
            found.append(str(self.layout.networks_dir))
        return found


def _stop_all(harness: Harness) -> None:
    for standin in harness.standins:
        standin.stop()


@pytest.fixture
def harness() -> Iterator[Harness]:
    workdir = Path(tempfile.mkdtemp(prefix="pyorch-net-"))
    layout = HostLayout(state_root=workdir / "state", run_root=workdir / "run",
                        instance="t" + secrets.token_hex(3))
    h = Harness(layout, NetworkManager(layout), workdir)
    try:
        yield h
    finally:
        try:
            _stop_all(h)
            h.nm.cleanup_all()
            leaks = h.leftovers()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if leaks:
            pytest.fail(f"instance {layout.instance} leaked: {leaks}")


def netns_run(pid: int, *argv: str) -> str:
    """Run a command inside a stand-in's netns (test inspection only, never in the product)."""
    return subprocess.run(["nsenter", "-t", str(pid), "-n", *argv], capture_output=True, text=True,
                          check=True).stdout


def is_root() -> bool:
    return os.geteuid() == 0
