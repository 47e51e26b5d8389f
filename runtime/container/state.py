"""Container records on disk: what was asked (config.json), what happened (state.json, exit.json).

The kernel and these files are the truth after an engine restart: a record plus a live pid whose
start time matches is a running container; an exit.json written by the shim is an exited one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ContainerRecord:
    id: str
    name: str
    image: str
    image_id: str
    created_at: float
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = "SIGTERM"
    stop_grace_period: float = 10.0
    pid: int = 0
    pid_start_time: int = 0
    started_at: float = 0.0
    restart_count: int = 0
    # The cgroup's cumulative OOM-kill count when this run started: a container restarted in the
    # same cgroup was OOM-killed in this run only if the count has grown since.
    oom_kills_before: int = 0
    # A step under way, written before its first side effect (the intent): CREATING until the
    # container is set up (its pid saved), REMOVING from the start of its removal to the end.
    # ``intent_by`` is the process doing it ([pid, start time]): once that process is gone the
    # step will never finish by itself, and the container is DEAD (what was left is collected).
    intent: str = ""
    intent_by: list[int] = field(default_factory=list)


CREATING = "creating"
REMOVING = "removing"
DEAD = "dead"


@dataclass(frozen=True)
class ContainerInfo:
    """A snapshot of one container as observed now."""

    record: ContainerRecord
    status: str  # created | running | paused | exited; creating | removing (a step under way) | dead
    exit_code: int | None
    finished_at: float | None
    oom_killed: bool = False
    exit_unknown: bool = False  # exited while no shim watched it: the status is unknown (exit_code -1)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def labels(self) -> dict[str, str]:
        return self.record.labels


def write_private(path: Path, text: str) -> None:
    """Write ``path`` atomically, readable by root only (it may hold an environment or secrets)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_private(path, json.dumps(data))


def save_record(bundle: Path, record: ContainerRecord) -> None:
    write_json(bundle / "container.json", asdict(record))


def load_record(bundle: Path) -> ContainerRecord | None:
    try:
        raw = json.loads((bundle / "container.json").read_text())
    except (OSError, ValueError):
        return None
    return ContainerRecord(**raw)


def load_exit(bundle: Path, pid: int | None = None) -> dict[str, Any] | None:
    """The exit record in the bundle; with ``pid``, only one about that run of the container (a
    restart keeps the bundle, and the record of the run before stays until the new run ends)."""
    try:
        data: dict[str, Any] = json.loads((bundle / "exit.json").read_text())
    except (OSError, ValueError):
        return None
    if pid is not None and data.get("pid", pid) != pid:
        return None
    return data


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (the state) on, so field N is ``[N - 3]``; None when the
    process is gone. (The command name, field 2, may hold spaces and parentheses: cut at the last.)"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot); 0 when the process is gone."""
    fields = stat_fields(pid)
    return 0 if fields is None else int(fields[19])


def is_alive(record: ContainerRecord) -> bool:
    """The container's PID 1 runs. A zombie does not: it has exited, its namespaces and mounts are
    gone, and only its reaper (the shim, or the host's init for an adopted container, lazily) has
    yet to collect it; its exit record is the shim's to write (``_adopt`` settles one now)."""
    return record.pid > 0 and _lives(record.pid, record.pid_start_time)


def this_process() -> list[int]:
    """[pid, start time] of the calling process: who an intent is written by."""
    pid = os.getpid()
    return [pid, process_start_time(pid)]


def intent_status(record: ContainerRecord) -> str | None:
    """The status an unfinished step gives the container (None when no step is under way):
    CREATING or REMOVING while the process doing it lives, DEAD once it is gone."""
    if not record.intent:
        return None
    owner = record.intent_by
    if len(owner) == 2 and owner[0] > 0 and _lives(owner[0], owner[1]):
        return record.intent
    return DEAD


def _lives(pid: int, start_time: int) -> bool:
    """The process ``pid`` started at ``start_time`` runs (a zombie, killed but not yet reaped by
    its parent, does not: it will never finish what it began)."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X") and int(fields[19]) == start_time
