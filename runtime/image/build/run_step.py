"""RUN: the command executed in a real pyorch container on top of the current layers.

The container gets the stage's config (env plus the build arguments, user, working directory),
no network (its own empty network namespace), the default seccomp profile and capabilities, and
an overlay root whose upper directory collects the changes. The caller turns that directory into
the step's layer while the container's bundle still exists; the container goes afterwards.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.errors import RuntimeFailure
from runtime.image.build.errors import BuildError

BUILD_LABEL = "pyorch.build"
_POLL_S = 0.02
_TAIL_LINES = 20


@contextlib.contextmanager
def run_container(runtime: ContainerRuntime, image_id: str, argv: list[str], env: dict[str, str], user: str,
                  workdir: str, where: str, output: Callable[[str], None]) -> Iterator[Path]:
    """Run ``argv`` to completion; yields the container's upper directory if it exited 0."""
    config = RunConfig(name=f"pyorch-build-{os.urandom(6).hex()}", image=image_id, entrypoint=argv, command=[],
                       environment=env, working_dir=workdir or "/", user=user, labels={BUILD_LABEL: "true"})
    try:
        info = runtime.create(config)
    except RuntimeFailure as exc:
        raise BuildError(f"{where}: cannot create the build container: {exc}") from exc
    try:
        try:
            runtime.start(info.id)
        except RuntimeFailure as exc:
            raise BuildError(f"{where}: {exc}") from exc
        tail = _follow(runtime, info.id, output)
        final = runtime.inspect(info.id)
        if final.exit_code != 0:
            shown = "\n".join(tail[-_TAIL_LINES:])
            raise BuildError(f"{where}: the command {argv!r} returned a non-zero code: {final.exit_code}"
                             + (f"\n{shown}" if shown else ""))
        yield runtime.layout.containers_dir / info.id / "upper"
    finally:
        with contextlib.suppress(RuntimeFailure):
            runtime.remove(info.id, force=True)


def _follow(runtime: ContainerRuntime, cid: str, output: Callable[[str], None]) -> list[str]:
    """Pass each log line on while the container runs; returns the lines seen."""
    log = runtime.log_path(cid)
    seen: list[str] = []
    offset = 0
    pending = b""
    while True:
        exited = runtime.inspect(cid).status == "exited"
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
