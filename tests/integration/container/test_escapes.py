"""Escape attempts from a default container, each of which must fail (Docker's guarantees).

One container runs every attempt and prints what the kernel answered, so the suite pays for one
start. The same script in a privileged container shows the attempts are real: there they work.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from runtime.container.runconfig import Mount, RunConfig
from runtime.container.runtime import ContainerRuntime
from tests.integration.container.test_isolation import run_to_exit, texts

pytestmark = pytest.mark.root
PYTHON = "pyorch.local/python:3.11"
INIT_MODULE, FINIT_MODULE = {"x86_64": (175, 313), "aarch64": (105, 273)}[platform.machine()]
ATTEMPTS = f"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def answer(rc):
    return "ok" if rc >= 0 else os.strerror(ctypes.get_errno())
print("mount", answer(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)))
print("init_module", answer(libc.syscall({INIT_MODULE}, b"\\0" * 64, 64, b"")))
null = os.open("/dev/null", os.O_RDONLY)
print("finit_module", answer(libc.syscall({FINIT_MODULE}, null, b"", 0)))
os.close(null)
for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/overcommit_memory"):
    try:
        with open(path) as f:
            current = f.read()
        with open(path, "w") as f:  # the value it has: harmless where the write goes through
            f.write(current)
        print("write", path, "ok")
    except OSError as e:
        print("write", path, e.strerror)
for path in ("/proc/timer_list", "/proc/interrupts", "/proc/keys"):
    with open(path, "rb") as f:
        print("read", path, len(f.read(4096)))
for path in ("/sys/firmware",):
    print("list", path, len(os.listdir(path)))
print("fds", sorted(int(fd) for fd in os.listdir("/proc/self/fd")))
"""


def test_mount_modules_proc_sys_writes_and_masked_paths_fail(rt: ContainerRuntime) -> None:
    info, log = run_to_exit(rt, RunConfig(name="esc", image=PYTHON, command=["python3", "-c", ATTEMPTS]))
    lines = texts(log)
    assert info.exit_code == 0, log
    assert "mount Operation not permitted" in lines
    assert "init_module Operation not permitted" in lines
    assert "finit_module Operation not permitted" in lines
    assert "write /proc/sys/kernel/core_pattern Read-only file system" in lines
    assert "write /proc/sys/vm/overcommit_memory Read-only file system" in lines
    # Masked: /dev/null or an empty tmpfs where the host has content.
    for path in ("/proc/timer_list", "/proc/interrupts", "/proc/keys"):
        assert Path(path).read_bytes()[:1], f"{path} is empty on the host: nothing to compare"
        assert f"read {path} 0" in lines, lines
    for path in ("/sys/firmware",):
        assert any(Path(path).iterdir()), f"{path} is empty on the host: nothing to compare"
        assert f"list {path} 0" in lines, lines
    assert "fds [0, 1, 2, 3]" in lines, lines  # stdio and listdir's own: nothing inherited


def test_the_same_attempts_succeed_where_the_container_is_privileged(rt: ContainerRuntime) -> None:
    _, log = run_to_exit(rt, RunConfig(name="esc-priv", image=PYTHON, privileged=True,
                                          command=["python3", "-c", ATTEMPTS]))
    lines = texts(log)
    assert "mount ok" in lines, lines
    # Loading a module is then refused by the kernel itself (a bogus image, or no module
    # support), not by the sandbox's EPERM.
    assert "init_module Operation not permitted" not in lines, lines
    assert "write /proc/sys/kernel/core_pattern Read-only file system" not in lines, lines
    assert any(line.startswith("read /proc/timer_list ") and not line.endswith(" 0") for line in lines), lines


def test_the_cgroup_namespace_is_rooted_at_the_containers_cgroups(rt: ContainerRuntime) -> None:
    # Stage 2 unshares it only once stage 1 has moved it into every cgroup of the container.
    info = rt.create(RunConfig(name="cgns", image=PYTHON, command=["cat", "/proc/self/cgroup"]))
    cgroup = rt.cgroup(info.id)
    assert cgroup is not None
    members = {d: (d / "cgroup.procs").read_text().split() for d in cgroup.directories}
    assert all(pids == [str(info.record.pid)] for pids in members.values()), members
    rt.start(info.id)
    final, log = run_to_exit(rt, RunConfig(name="cgns2", image=PYTHON, command=["cat", "/proc/self/cgroup"]))
    paths = [line.rsplit(":", 1)[1] for line in texts(log) if line.count(":") >= 2]
    assert final.exit_code == 0 and len(paths) == len(Path("/proc/self/cgroup").read_text().splitlines())
    assert set(paths) == {"/"}, paths


def test_a_symlinked_working_dir_resolves_inside_the_container(rt: ContainerRuntime, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "host-only-marker").write_text("")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "link").symlink_to(outside)  # an absolute host path: must not be followed on the host
    info, log = run_to_exit(rt, RunConfig(name="wd", image=PYTHON, working_dir="/data/link",
                                          mounts=[Mount("bind", "/data", str(shared))],
                                          command=["sh", "-c", "pwd; ls -A; echo listed"]))
    lines = texts(log)
    assert info.exit_code == 0 and "listed" in lines, log
    assert "host-only-marker" not in lines, lines
