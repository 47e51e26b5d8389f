"""Shared fixtures: a private pyorch instance per test, and a leak check after it.

Every test that touches the kernel gets its own state root, run directory and instance tag, so
cgroups, nftables tables and sockets never collide; after the test the kernel must hold nothing
that was not there before (mounts, cgroups, links, netns, nftables tables, processes).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.container.runtime import ContainerRuntime
from runtime.image.bootstrap import ensure_base_images
from runtime.layout import HostLayout

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background of a script has SIGINT ignored (a shell ignores it for
    its `&` jobs), and every CLI a test starts inherits an ignored signal: the tests that press
    Ctrl-C (attached `up`, `events`, `stats`) failed, and the attached `up` they left running
    started its engine again after the teardown. A handled SIGINT is the default again in children."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root and the real kernel")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def _links() -> dict[str, str]:
    """Every link of the host's network namespace: name -> alias ("" when it has none)."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    links = {}
    for line in out.splitlines():
        if ": " not in line:
            continue
        _, _, alias = line.partition(" alias ")
        links[line.split(": ")[1].split("@")[0]] = alias.split("\\")[0].strip()
    return links


def _our_links(layout: HostLayout) -> list[str]:
    """The links this test's instance could have made: pyorch's names with this instance's tag
    (bridges `pyb…`, veths `pyv…`), a bridge carrying its alias, or a container's interface name
    (`ethN`) in the host's namespace (a veth peer plumbed into the wrong netns, e.g. a reused pid's).

    Links of other instances (suites side by side) and of anything else on the host (a Docker
    daemon a benchmark runs beside the suite makes `br-…` bridges and `veth…` pairs) are not this
    test's: counting every new link made those a leak of whichever test ran meanwhile."""
    prefixes = (layout.link_prefix("pyb"), layout.link_prefix("pyv"))
    alias = f"pyorch:{layout.instance}"
    return sorted(name for name, link_alias in _links().items()
                  if name.startswith(prefixes) or link_alias == alias or re.fullmatch(r"eth\d+", name))


def _our_tables(layout: HostLayout) -> list[str]:
    """nftables tables of this test's instance (`ip` and `bridge` families, or any other)."""
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
    return sorted(line for line in out.splitlines() if line.split()[-1:] == [layout.nft_table])


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


def _cgroup_dirs(tag: str) -> list[str]:
    found = []
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        candidate = hierarchy / tag
        if candidate.exists():
            found.append(str(candidate))
    return found


def _processes_of(layout: HostLayout) -> list[str]:
    """Processes whose command line or environment names this instance's run directory."""
    marker = str(layout.run_root).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker in cmdline or b"PYORCH_RUN=" + marker + b"\0" in environ:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")[:100]
            found.append(f"{proc.name}: {shown}")
    return found


@pytest.fixture(scope="session")
def shared_images() -> Iterator[Path]:
    """One image store for the whole run: base images are built once (they are read-only layers)."""
    root = Path(tempfile.mkdtemp(prefix="pyorch-images-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def debian_image(shared_images: Path) -> str:
    """`pyorch.local/debian:<codename>`, bootstrapped once per run into the shared store (it fetches
    the minbase packages from the host's Debian mirror: about 40 s on a fresh machine)."""
    from runtime.image import ImageStore
    from runtime.image.debian import ensure_debian_image

    return ensure_debian_image(ImageStore(shared_images))


@pytest.fixture
def layout(tmp_path: Path, shared_images: Path) -> Iterator[HostLayout]:
    """A private pyorch instance; fails the test if it leaves anything in the kernel."""
    from runtime.gc import purge_instance, stop_daemons

    instance = "t" + secrets.token_hex(3)
    state = tmp_path / "state"
    state.mkdir()
    (state / "images").symlink_to(shared_images)
    lay = HostLayout(state_root=state, run_root=tmp_path / "run", instance=instance)
    hosts_eth = set(_our_links(lay))  # the host's own ethN (only links of the instance can be new)
    yield lay
    stop_daemons(lay)  # the engine and the shim are expected to run until here
    leaks: list[str] = []
    new_links = [name for name in _our_links(lay) if name not in hosts_eth]
    if new_links:
        leaks.append(f"links: {new_links}")
    tables = _our_tables(lay)
    if tables:
        leaks.append(f"nftables tables: {tables}")
    mounts = _mounts_under(tmp_path)
    if mounts:
        leaks.append(f"mounts: {mounts}")
    cgroups = _cgroup_dirs(lay.cgroup_parent)
    if cgroups:
        leaks.append(f"cgroups: {cgroups}")
    procs = _processes_of(lay)
    if procs:
        leaks.append(f"processes: {procs}")
    purge_instance(lay)  # whatever leaked must not break the next test
    if leaks:
        pytest.fail("leaked: " + "; ".join(leaks))


@pytest.fixture
def rt(layout: HostLayout) -> Iterator[ContainerRuntime]:
    """A container runtime on the test's private instance, with the offline base images; every
    container it made is removed afterwards."""
    runtime = ContainerRuntime(layout)
    ensure_base_images(runtime.images)
    yield runtime
    for info in runtime.containers():
        runtime.remove(info.id, force=True)
    runtime.shim.close()
