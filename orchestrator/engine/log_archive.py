"""Logs of removed containers, kept until `down`, so `logs` after a rollout or a crash loop shows
what the old replicas printed (Docker deletes a container's log with the container).

A service container's log files move, on removal, to
``$PYORCH_ROOT/logs/<project>/<service>/<removal ns>-<container id>/`` with a ``meta.json``
(name, number, exit code). The last ``KEPT_PER_SERVICE`` removed containers of each service are
kept, each capped by its own rotation settings; `down` removes the project's. One-off `run`
containers are not kept (their output went to the terminal that ran them).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from orchestrator.engine.labels import LABEL_NUMBER, LABEL_PROJECT, LABEL_SERVICE
from orchestrator.engine.logs import LogSource
from runtime.container.logfile import LOG_NAME
from runtime.container.runtime import ContainerRuntime
from runtime.container.state import ContainerInfo

KEPT_PER_SERVICE = 10


def _root(runtime: ContainerRuntime) -> Path:
    return runtime.layout.state_root / "logs"


def keep(runtime: ContainerRuntime, info: ContainerInfo) -> None:
    """Move a service container's logs aside before it is removed; the oldest kept beyond the
    service's allowance go."""
    project, service = info.labels.get(LABEL_PROJECT), info.labels.get(LABEL_SERVICE)
    if not project or not service:
        return
    service_dir = _root(runtime) / project / service
    dest = service_dir / f"{time.time_ns()}-{info.id}"
    if not runtime.archive_logs(info.id, dest):
        return
    meta: dict[str, Any] = {"id": info.id, "name": info.name, "number": info.labels.get(LABEL_NUMBER, ""),
                            "exit_code": info.exit_code, "removed_at": time.time()}
    (dest / "meta.json").write_text(json.dumps(meta))
    for old in sorted(service_dir.iterdir())[:-KEPT_PER_SERVICE]:
        shutil.rmtree(old, ignore_errors=True)


def sources(runtime: ContainerRuntime, project: str, services: set[str], index: int | None) -> list[LogSource]:
    """The kept logs of the project's removed containers (of ``services``, all when empty)."""
    found: list[LogSource] = []
    project_dir = _root(runtime) / project
    if not project_dir.is_dir():
        return found
    for service_dir in sorted(project_dir.iterdir()):
        if services and service_dir.name not in services:
            continue
        for kept in sorted(service_dir.iterdir()):
            try:
                meta = json.loads((kept / "meta.json").read_text())
            except (OSError, ValueError):
                continue
            if index is not None and str(meta.get("number")) != str(index):
                continue
            found.append(LogSource(str(meta.get("name", kept.name)), service_dir.name, kept / LOG_NAME,
                                   key=str(meta.get("id", kept.name))))
    return found


def purge(runtime: ContainerRuntime, project: str) -> None:
    """`down`: the project's kept logs go with it."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(_root(runtime) / project)
