"""One-off containers for `pyorch run`: `<project>-<service>-run-<12 hex>`, like Compose's.

A one-off container is not a replica: it carries the project under its own label
(`io.pyorch.oneoff-project`) instead of Compose's project label, so the reconcile loop, the
published ports and the DNS tables never count it, and a restart policy never brings it back.
It joins the service's networks, so it reaches the other services by address. `down` removes
the ones left behind (`run` without `--rm`, or `run -d`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestrator.engine.executor import Executor
from orchestrator.engine.labels import (
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_ONEOFF_PROJECT,
    LABEL_PROJECT,
    LABEL_SLUG,
    Labelled,
)
from orchestrator.engine.logs import LogSource, stream_logs
from orchestrator.engine.observation import Observation
from orchestrator.engine.volume_mounts import oneoff_volume_prefix, use_oneoff_volumes
from orchestrator.errors import EngineError, NoSuchService
from orchestrator.spec import Project
from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.container.state import ContainerInfo

Inspect = Callable[[str], ContainerInfo]


@dataclass(frozen=True)
class RunRequest:
    service: str
    command: list[str] = field(default_factory=list)     # empty: the service's command
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    workdir: str | None = None
    name: str | None = None
    tty: bool | None = None                  # None: the service's `tty:`
    stdin_open: bool | None = None           # None: the service's `stdin_open:`
    console_size: tuple[int, int] | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> RunRequest:
        env: dict[str, str] = {}
        for item in body.get("env") or []:
            key, sep, value = str(item).partition("=")
            if not key or not sep:
                raise EngineError(f"invalid environment entry {item!r}: expected KEY=VALUE")
            env[key] = value
        entrypoint = body.get("entrypoint")
        return cls(service=str(body["service"]), command=[str(a) for a in body.get("command") or []],
                   entrypoint=None if entrypoint is None else [str(a) for a in entrypoint],
                   env=env, user=body.get("user") or None, workdir=body.get("workdir") or None,
                   name=body.get("name") or None, tty=_flag(body.get("tty")), stdin_open=_flag(body.get("stdin_open")),
                   console_size=_size(body.get("size")))


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _size(value: Any) -> tuple[int, int] | None:
    """A terminal's [rows, columns]; anything else is no size."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(n, int) and 0 < n < 65536 for n in value):
        return value[0], value[1]
    return None


def oneoff_name(project: str, service: str, slug: str) -> str:
    return f"{project}-{service}-run-{slug[:12]}"


def adjust_config(config: RunConfig, project: str, request: RunRequest, slug: str) -> None:
    """The service's config, with `run`'s overrides, labelled as a one-off (pure, tested)."""
    labels = config.labels
    labels.pop(LABEL_PROJECT, None)
    labels.update({LABEL_ONEOFF_PROJECT: project, LABEL_ONEOFF: "True", LABEL_SLUG: slug, LABEL_NUMBER: "1"})
    if request.entrypoint is not None:
        # Like `docker run --entrypoint`: the image's and the service's command no longer apply.
        config.entrypoint = request.entrypoint
        config.command = request.command
    elif request.command:
        config.command = request.command
    config.environment = {**config.environment, **request.env}
    if request.user:
        config.user = request.user
    if request.workdir:
        config.working_dir = request.workdir
    use_oneoff_volumes(config, project, request.service, slug)
    if request.tty is not None:
        config.tty = request.tty
    if request.stdin_open is not None:
        config.stdin_open = request.stdin_open
    config.console_size = request.console_size


def start_oneoff(executor: Executor, seen: Observation, inspect: Inspect, project: Project, revision: int,
                 request: RunRequest, before_start: Callable[[str], None] | None = None) -> ContainerInfo:
    """Create and start the one-off; ``before_start(id)`` runs between the two (a client attaches
    there, so it sees the first byte the command writes)."""
    NoSuchService.refuse_unknown(project.services, [request.service])
    slug = secrets.token_hex(32)
    name = request.name or oneoff_name(project.name, request.service, slug)
    if any(c.name == name for c in seen.all):
        raise EngineError(f"a container named {name!r} already exists")
    executor.ensure_networks(project)
    cid = executor.create_container(project, revision, request.service, 1, name,
                                    adjust=lambda config: adjust_config(config, project.name, request, slug),
                                    before_start=before_start)
    return inspect(cid)


def attach(runtime: ContainerRuntime, cid: str, stopped: Callable[[], bool]) -> Iterator[dict[str, Any]]:
    """The container's output from its first line until it exits, then ``{"exit_code": N}``.

    The shim writes the log before it reports the exit, so one more read after the exit is seen
    gets every line.
    """
    c = Labelled.of(runtime.inspect(cid))
    source = LogSource(c.name, c.service, runtime.log_path(cid))
    exit_seen = False

    def done() -> bool:
        nonlocal exit_seen
        if exit_seen or stopped():
            return True
        exit_seen = runtime.inspect(cid).status == "exited"
        return False

    yield from stream_logs(lambda: [source], True, -1, done, poll_s=0.05)
    final = runtime.inspect(cid)
    while final.status != "exited" and not stopped():  # the stream ended early only on engine shutdown
        time.sleep(0.05)
        final = runtime.inspect(cid)
    yield {"exit_code": final.exit_code if final.exit_code is not None else -1}


def remove_oneoff(executor: Executor, inspect: Inspect, project: str, cid: str) -> str:
    c = Labelled.of(inspect(cid))
    if c.oneoff_project != project:
        raise EngineError(f"container {cid[:12]} is not a one-off container of project {project!r}")
    executor.remove_container(project, cid, c.service, timeout=1.0)
    prefix = oneoff_volume_prefix(project, c.service, c.info.labels.get(LABEL_SLUG, ""))
    for volume in executor.runtime.volumes.list():  # `run --rm`: its anonymous volumes go with it
        if volume.name.startswith(prefix) and volume.anonymous:
            executor.runtime.volumes.remove(volume.name, [])
    return c.name
