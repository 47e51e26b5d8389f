"""RUN: the command executed in a real pyorch container on top of the current layers.

The container gets the stage's config (env plus the build arguments, user, working directory),
the step's network (the build network, none, or the host's), its mounts (caches, secrets, bind
sources, tmpfs), the default seccomp profile and capabilities, and an overlay root whose upper
directory collects the changes. The caller turns that directory into the step's layer while the
container's bundle still exists; the container goes afterwards. A build that is being cancelled
(another stage failed) kills the step's container.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runtime.container.runconfig import Mount, RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.errors import RuntimeFailure
from runtime.image.build.errors import BuildCancelled, BuildError

BUILD_LABEL = "pyorch.build"
_POLL_S = 0.02
_TAIL_LINES = 20


@dataclass
class StepContainer:
    image_id: str
    argv: list[str]
    env: dict[str, str]
    user: str
    workdir: str
    network_mode: str = "none"                   # "" (own netns, attached by on_pid), none, host
    on_pid: Callable[[str, int], object] | None = None
    extra_hosts: dict[str, str] = field(default_factory=dict)
    dns: list[str] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)


@contextlib.contextmanager
def run_container(runtime: ContainerRuntime, step: StepContainer, where: str, output: Callable[[str], None],
                  cancelled: threading.Event | None = None,
                  gone: Callable[[str], None] = lambda cid: None) -> Iterator[Path]:
    """Run the step to completion; yields the container's upper directory if it exited 0.

    ``gone(id)`` runs once the container is removed (the build network frees its address there).
    """
    config = RunConfig(name=f"pyorch-build-{os.urandom(6).hex()}", image=step.image_id, entrypoint=step.argv,
                       command=[], environment=step.env, working_dir=step.workdir or "/", user=step.user,
                       labels={BUILD_LABEL: "true"}, network_mode=step.network_mode,
                       extra_hosts=dict(step.extra_hosts), dns=list(step.dns), mounts=list(step.mounts))
    try:
        info = runtime.create(config, on_pid=step.on_pid)
    except RuntimeFailure as exc:
        raise BuildError(f"{where}: cannot create the build container: {exc}") from exc
    try:
        try:
            runtime.start(info.id)
        except RuntimeFailure as exc:
            raise BuildError(f"{where}: {exc}") from exc
        tail = _follow(runtime, info.id, output, cancelled)
        final = runtime.inspect(info.id)
        if cancelled is not None and cancelled.is_set():
            raise BuildCancelled(f"{where}: cancelled")
        if final.exit_code != 0:
            shown = "\n".join(tail[-_TAIL_LINES:])
            raise BuildError(f"{where}: the command {step.argv!r} returned a non-zero code: {final.exit_code}"
                             + (f"\n{shown}" if shown else ""))
        yield runtime.layout.containers_dir / info.id / "upper"
    finally:
        with contextlib.suppress(RuntimeFailure):
            runtime.remove(info.id, force=True)
        gone(info.id)


def _follow(runtime: ContainerRuntime, cid: str, output: Callable[[str], None],
            cancelled: threading.Event | None) -> list[str]:
    """Pass each log line on while the container runs; returns the lines seen."""
    log = runtime.log_path(cid)
    seen: list[str] = []
    offset = 0
    pending = b""
    killed = False
    while True:
        exited = runtime.inspect(cid).status == "exited"
        if not exited and not killed and cancelled is not None and cancelled.is_set():
            with contextlib.suppress(RuntimeFailure):
                runtime.kill(cid)
            killed = True
        try:
            with open(log, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        offset += len(data)
        pending += data
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            text = _log_text(raw.decode(errors="replace"))
            seen.append(text)
            output(text)
        if exited:
            return seen
        time.sleep(_POLL_S)


def _log_text(line: str) -> str:
    """The text of a k8s-file log line (``<time> <stream> <F|P> <text>``)."""
    fields = line.split(" ", 3)
    return fields[3] if len(fields) == 4 else ""
