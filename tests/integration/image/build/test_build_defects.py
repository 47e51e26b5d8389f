"""Defects met building real projects, each pinned by a test (issue 15)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime.container.runconfig import Mount, RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.errors import RuntimeFailure
from runtime.image.build import Builder, BuildRequest
from runtime.network import NetworkManager
from runtime.network.model import NetworkSpec
from tests.integration.image.build.test_builder import run_image_cmd

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_steps_that_repeat_a_layer_build_and_run(rt: ContainerRuntime, tmp_path: Path) -> None:
    """Two RUN steps that change nothing, and a COPY of the same file twice, made the same layer
    twice; overlayfs refuses a lowerdir given twice (ELOOP), so the next RUN and every container of
    the image failed."""
    context = _context(tmp_path, f"FROM {BUSYBOX}\nRUN true\nRUN true\nCOPY a.txt /x\nRUN rm /x\nCOPY a.txt /x\n"
                                 "RUN cat /x > /y\n")
    (context / "a.txt").write_text("same bytes\n")
    result = Builder(rt).build(BuildRequest(context=context, no_cache=True))
    base = rt.images.resolve(BUSYBOX)
    # RUN steps that change nothing add no layer (as BuildKit drops empty layers)
    assert len(result.image.layer_dirs) == len(base.layer_dirs) + 4
    assert result.image.layer_dirs[-4] == result.image.layer_dirs[-2]  # the same layer twice, on purpose
    network = NetworkManager(rt.layout)
    network.ensure_network(NetworkSpec("defects"))
    try:
        info = rt.create(RunConfig(name="twice", image=result.image.id, command=["cat", "/x", "/y"]),
                         on_pid=lambda cid, pid: network.connect(cid, pid, "defects"))
        rt.start(info.id)
        deadline = time.monotonic() + 30
        while rt.inspect(info.id).status != "exited":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert rt.inspect(info.id).exit_code == 0
        assert rt.log_path(info.id).read_text().count("same bytes") == 2
        rt.remove(info.id)
        network.release_addresses([(info.id, "defects")])
    finally:
        network.cleanup_all()


def test_a_failed_root_setup_is_reported_not_the_network_attach_it_broke(rt: ContainerRuntime) -> None:
    """The create's own error wins over the hook's: the hook's veth failed only because the
    container's PID 1 had died of the real problem."""
    network = NetworkManager(rt.layout)
    network.ensure_network(NetworkSpec("defects"))

    def attach(cid: str, pid: int) -> None:
        time.sleep(0.3)  # let the child fail its mounts first
        network.connect(cid, pid, "defects")

    try:
        config = RunConfig(name="broken", image=BUSYBOX, command=["true"],
                           mounts=[Mount("tmpfs", target="/bin/sh")])  # a symlink in the image
        with pytest.raises(RuntimeFailure, match=r"/bin/sh is a symlink") as caught:
            rt.create(config, on_pid=attach)
        assert "veth" not in str(caught.value)
        assert rt.containers() == []
    finally:
        network.cleanup_all()


def test_copy_chown_to_a_user_an_earlier_run_created(rt: ContainerRuntime, tmp_path: Path) -> None:
    context = _context(tmp_path, f"FROM {BUSYBOX}\nRUN echo app:x:4321:4321::/home/app:/bin/sh >> /etc/passwd && "
                                 "echo crew:x:4322: >> /etc/group\n"
                                 "COPY --chown=app:crew a.txt /home/app/a.txt\n")
    (context / "a.txt").write_text("mine\n")
    result = Builder(rt).build(BuildRequest(context=context))
    code, lines = run_image_cmd(rt, result.image.id, "stat -c '%u:%g %U' /home/app/a.txt")
    assert (code, lines) == (0, ["4321:4322 app"])
