"""One shim per run directory: a shim started while another already serves the socket (two
starters each found nobody listening, e.g. the engine after a shim's death and another client)
leaves, and the serving one keeps its socket. Before, the newcomer unlinked the socket and bound
its own, so the first shim and its warm process ran on, unreachable, until someone killed them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.container import shim_client
from runtime.container.shim_client import ShimClient
from runtime.container.state import stat_fields
from runtime.gc import stop_shim
from runtime.layout import HostLayout
from tests.helpers import shim_answering, wait_until

pytestmark = pytest.mark.root


def _shims_of(socket_path: Path) -> list[int]:
    """The shims started for this socket: processes with it on their command line whose parent is
    not one of them (a shim's warm process is its child, with the same command line)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat_fields(int(proc.name))
        if str(socket_path).encode() in argv and fields:
            parents[int(proc.name)] = int(fields[1])  # field 4, the parent
    return sorted(pid for pid, parent in parents.items() if parent not in parents)


def test_a_second_shim_leaves_the_serving_one_its_socket(tmp_path: Path) -> None:
    layout = HostLayout(state_root=tmp_path / "state", run_root=tmp_path / "run", instance="t" + "51e")
    client = ShimClient(layout.run_root)
    try:
        assert client.ensure_running() is True
        serving = shim_answering(layout)
        assert serving is not None and _shims_of(client.socket_path) == [serving]
        # A second start, as a racing client runs it (the same boot command; it daemonizes).
        subprocess.run([sys.executable, "-I", "-S", "-c", shim_client._BOOT, shim_client._PACKAGE_ROOT,
                        str(client.socket_path)], check=True, stdin=subprocess.DEVNULL)
        wait_until(lambda: _shims_of(client.socket_path) == [serving], "the second shim to leave", 10.0,
                   detail=lambda: (_shims_of(client.socket_path), serving))
        assert shim_answering(layout) == serving
    finally:
        client.close()
        stop_shim(layout.run_root)
