"""The engine's memory: project revisions, per-container bookkeeping and events, in SQLite.

SQLite in WAL mode: one file, crash-consistent (every write is a transaction), readable while the
engine writes, no server to run. Desired state is written here before it is acted on (DESIGN
invariant 2) and every revision is kept for rollback.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.diskspace import is_no_space

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    working_dir TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS revisions (
    project TEXT NOT NULL,
    revision INTEGER NOT NULL,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (project, revision)
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    stopped_by_user INTEGER NOT NULL DEFAULT 0,
    restart_delay REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS attachments (
    container_id TEXT NOT NULL,
    network TEXT NOT NULL,
    ip TEXT NOT NULL,
    PRIMARY KEY (container_id, network)
);
CREATE TABLE IF NOT EXISTS host_ports (
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    port_index INTEGER NOT NULL,
    host_port INTEGER NOT NULL,
    PRIMARY KEY (project, service, port_index)
);
CREATE TABLE IF NOT EXISTS restart_history (
    container_id TEXT NOT NULL,
    project TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS restart_history_by_container ON restart_history (container_id);
CREATE TABLE IF NOT EXISTS recorded_exits (
    container_id TEXT NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (container_id, finished_at)
);
CREATE TABLE IF NOT EXISTS health (
    container_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    service TEXT NOT NULL,
    number INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    message TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (project, name)
);
CREATE TABLE IF NOT EXISTS teardowns (
    project TEXT PRIMARY KEY,
    revision INTEGER,
    remove_volumes INTEGER NOT NULL,
    started_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


log = logging.getLogger("pyorch.store")


@contextmanager
def _unless_disk_full() -> Iterator[None]:
    """A write that may be skipped when the disk is full (a copy of what memory holds)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if not is_no_space(exc):
            raise


@dataclass(frozen=True)
class Refusal:
    """A container the engine stopped trying to create or restart: its configuration cannot work
    (runtime.errors.ConfigurationError) at ``revision``; the next stored revision tries again."""

    project: str
    name: str
    service: str
    number: int  # 0 when the container exists (a restart was refused)
    revision: int
    message: str
    ts: float


@dataclass(frozen=True)
class Teardown:
    """A `down` under way: the project's revision then (its networks and ports), and `-v`."""

    project: str
    revision: int | None
    remove_volumes: bool
    started_at: float


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    project: str
    kind: str
    subject: str
    detail: dict[str, Any]


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Revisions hold every service's environment: root only. SQLite gives its -wal and -shm
        # files the database file's mode, so creating it 0600 closes all three.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        os.chmod(path, 0o600)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._new_event = threading.Condition(self._lock)
        self._dropped_events = 0  # events a full disk had no room for (record_event)
        self._dropped_since = 0.0

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (the caller holds the lock). A statement that fails (a full disk:
        SQLITE_FULL) rolls the whole transaction back, so the connection is never left inside a
        transaction nobody ends: every later write would fail with "cannot start a transaction
        within a transaction" long after space was freed."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- projects ----------------------------------------------------------------------------------
    def save_revision(self, project: str, working_dir: str, spec: dict[str, Any]) -> int:
        with self._lock:
            with self._transaction():
                row = self._db.execute("SELECT MAX(revision) FROM revisions WHERE project=?", (project,)).fetchone()
                revision = (row[0] or 0) + 1
                now = time.time()
                self._db.execute(
                    "INSERT INTO revisions VALUES (?,?,?,?)", (project, revision, json.dumps(spec), now)
                )
                self._db.execute(
                    "INSERT INTO projects VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
                    "revision=excluded.revision, working_dir=excluded.working_dir, updated_at=excluded.updated_at",
                    (project, revision, working_dir, now),
                )
                # An `up` after a `down` that was cut short: the project is desired again, and its
                # containers left over are converged like any others (kept, recreated or removed).
                self._db.execute("DELETE FROM teardowns WHERE project=?", (project,))
            return revision

    def current_spec(self, project: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT r.spec FROM projects p JOIN revisions r ON r.project=p.name AND r.revision=p.revision "
                "WHERE p.name=?",
                (project,),
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def current_revision(self, project: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT revision FROM projects WHERE name=?", (project,)).fetchone()
        return None if row is None else int(row[0])

    def projects(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM projects ORDER BY name")]

    def forget_project(self, project: str) -> None:
        """The project is no longer desired; its revisions stay for history."""
        with self._lock:
            with self._transaction():
                self._db.execute("DELETE FROM projects WHERE name=?", (project,))
                self._db.execute("DELETE FROM host_ports WHERE project=?", (project,))
                self._db.execute("DELETE FROM refusals WHERE project=?", (project,))

    # --- teardowns (`down`'s intent: what a `down` cut short still has to remove) ----------------------
    def begin_teardown(self, teardown: Teardown) -> None:
        """`down`: the project is no longer desired, and its teardown is owed until `end_teardown`
        (one transaction: a crash leaves either the project or the teardown)."""
        with self._lock:
            with self._transaction():
                self._db.execute("INSERT OR REPLACE INTO teardowns VALUES (?,?,?,?)",
                                 (teardown.project, teardown.revision, int(teardown.remove_volumes),
                                  teardown.started_at))
                self._db.execute("DELETE FROM projects WHERE name=?", (teardown.project,))
                self._db.execute("DELETE FROM host_ports WHERE project=?", (teardown.project,))
                self._db.execute("DELETE FROM refusals WHERE project=?", (teardown.project,))

    def end_teardown(self, project: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM teardowns WHERE project=?", (project,))

    def teardowns(self) -> list[Teardown]:
        with self._lock:
            rows = self._db.execute("SELECT project, revision, remove_volumes, started_at FROM teardowns "
                                    "ORDER BY project").fetchall()
        return [Teardown(r[0], r[1], bool(r[2]), float(r[3])) for r in rows]

    def spec_at(self, project: str, revision: int) -> dict[str, Any] | None:
        """A stored revision of the project (kept after `down`)."""
        with self._lock:
            row = self._db.execute("SELECT spec FROM revisions WHERE project=? AND revision=?",
                                   (project, revision)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    # --- containers ----------------------------------------------------------------------------------
    def container_flags(self, container_id: str) -> tuple[bool, float]:
        with self._lock:
            row = self._db.execute(
                "SELECT stopped_by_user, restart_delay FROM containers WHERE id=?", (container_id,)
            ).fetchone()
        return (False, 0.0) if row is None else (bool(row[0]), float(row[1]))

    def all_container_flags(self) -> dict[str, tuple[bool, float]]:
        """`container_flags` of every container at once (one query for a whole pass)."""
        with self._lock:
            rows = self._db.execute("SELECT id, stopped_by_user, restart_delay FROM containers").fetchall()
        return {r[0]: (bool(r[1]), float(r[2])) for r in rows}

    def set_container_flags(self, container_id: str, project: str, stopped_by_user: bool, delay: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO containers VALUES (?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                "stopped_by_user=excluded.stopped_by_user, restart_delay=excluded.restart_delay",
                (container_id, project, int(stopped_by_user), delay),
            )

    def forget_containers_except(self, known: set[str]) -> None:
        """Every row about a container not in ``known`` goes (one removed by a process that died
        between its rows and its bundle)."""
        with self._lock:
            with self._transaction():
                self._db.execute("CREATE TEMP TABLE IF NOT EXISTS known_ids (id TEXT PRIMARY KEY)")
                self._db.execute("DELETE FROM known_ids")
                self._db.executemany("INSERT OR IGNORE INTO known_ids VALUES (?)", [(cid,) for cid in known])
                for table, column in (("containers", "id"), ("attachments", "container_id"), ("health", "container_id"),
                                      ("restart_history", "container_id"), ("recorded_exits", "container_id")):
                    self._db.execute(f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM known_ids)")
                self._db.execute("DELETE FROM known_ids")

    def forget_container(self, container_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM containers WHERE id=?", (container_id,))
            self._db.execute("DELETE FROM attachments WHERE container_id=?", (container_id,))
            self._db.execute("DELETE FROM health WHERE container_id=?", (container_id,))

    # --- refusals (creates and restarts a retry cannot fix) -----------------------------------------------
    def refuse(self, refusal: Refusal) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO refusals VALUES (?,?,?,?,?,?,?)",
                             (refusal.project, refusal.name, refusal.service, refusal.number, refusal.revision,
                              refusal.message, refusal.ts))

    def refusals(self, project: str) -> list[Refusal]:
        with self._lock:
            rows = self._db.execute("SELECT project, name, service, number, revision, message, ts FROM refusals "
                                    "WHERE project=? ORDER BY name", (project,)).fetchall()
        return [Refusal(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5], float(r[6])) for r in rows]

    def forget_refusal(self, project: str, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM refusals WHERE project=? AND name=?", (project, name))

    # --- health (kept across engine restarts, as Docker keeps State.Health) ----------------------------
    def save_health(self, container_id: str, started_at: float, state: dict[str, Any]) -> None:
        """Keep a container's health state for the next engine; on a full disk this copy is
        skipped (the probes go on from the state in memory, and the next probe writes it)."""
        with self._lock, _unless_disk_full():
            self._db.execute("INSERT INTO health VALUES (?,?,?) ON CONFLICT(container_id) DO UPDATE SET "
                             "started_at=excluded.started_at, state=excluded.state",
                             (container_id, started_at, json.dumps(state)))

    def load_health(self, container_id: str, started_at: float) -> dict[str, Any] | None:
        """The last health state of this run of the container (a restarted one starts afresh)."""
        with self._lock:
            row = self._db.execute("SELECT state FROM health WHERE container_id=? AND started_at=?",
                                   (container_id, started_at)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    # --- restart history (Swarm's restart_policy counts restarts inside a window) -----------------------
    def record_restart(self, container_id: str, project: str, ts: float) -> None:
        with self._lock:
            self._db.execute("INSERT INTO restart_history VALUES (?,?,?)", (container_id, project, ts))

    def restart_history(self, container_id: str) -> list[float]:
        with self._lock:
            rows = self._db.execute(
                "SELECT ts FROM restart_history WHERE container_id=? ORDER BY ts", (container_id,)
            ).fetchall()
        return [float(r[0]) for r in rows]

    def forget_restart_history(self, container_id: str) -> None:
        """A removed container's history goes with it (a replacement starts a new one, like Swarm)."""
        with self._lock:
            self._db.execute("DELETE FROM restart_history WHERE container_id=?", (container_id,))
            self._db.execute("DELETE FROM recorded_exits WHERE container_id=?", (container_id,))

    def record_exit_once(self, project: str, container_id: str, name: str, finished_at: float,
                         exit_code: int | None, oom_killed: bool, unknown: bool = False) -> bool:
        """A `container-die` event the first time an exit is seen, whenever that is (also exits that
        happened while the engine was down); True when this call recorded it. On a full disk
        nothing is recorded (False): the exit is still seen at the next pass, recorded then."""
        recorded = False
        with self._lock, _unless_disk_full():
            with self._transaction():
                inserted = self._db.execute("INSERT OR IGNORE INTO recorded_exits VALUES (?,?)",
                                            (container_id, finished_at)).rowcount == 1
                if inserted:
                    self._db.execute(
                        "INSERT INTO events (ts, project, kind, subject, detail) VALUES (?,?,?,?,?)",
                        (time.time(), project, "container-die", name,
                         json.dumps({"id": container_id, "exit_code": exit_code, "oom_killed": oom_killed,
                                     "finished_at": finished_at, **({"unknown": True} if unknown else {})})))
            recorded = inserted  # (committed)
            if recorded:
                self._new_event.notify_all()
        return recorded

    def set_attachment(self, container_id: str, network: str, ip: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO attachments VALUES (?,?,?)", (container_id, network, ip)
            )

    def attachments(self, container_id: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT network, ip FROM attachments WHERE container_id=?", (container_id,)
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def all_attachments(self) -> dict[str, dict[str, str]]:
        """`attachments` of every container at once: container id -> network -> address."""
        with self._lock:
            rows = self._db.execute("SELECT container_id, network, ip FROM attachments").fetchall()
        result: dict[str, dict[str, str]] = {}
        for cid, network, ip in rows:
            result.setdefault(cid, {})[network] = ip
        return result

    def host_port(self, project: str, service: str, index: int) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT host_port FROM host_ports WHERE project=? AND service=? AND port_index=?",
                (project, service, index),
            ).fetchone()
        return None if row is None else int(row[0])

    def set_host_port(self, project: str, service: str, index: int, port: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO host_ports VALUES (?,?,?,?)", (project, service, index, port))

    # --- events --------------------------------------------------------------------------------------
    def record_event(self, project: str, kind: str, subject: str, **detail: Any) -> None:
        """Append an event. On a full disk the event is counted and dropped, as the shim drops log
        lines (what happened is still done; only its record is lost), and the first event that
        fits again is preceded by an `events-dropped` event saying how many and since when."""
        with self._lock:
            try:
                if self._dropped_events:
                    self._insert_event("", "events-dropped", "engine", {
                        "count": self._dropped_events, "since": self._dropped_since,
                        "reason": "no space left on device"})
                    self._dropped_events = 0
                self._insert_event(project, kind, subject, detail)
            except sqlite3.OperationalError as exc:
                if not is_no_space(exc):
                    raise
                if not self._dropped_events:
                    self._dropped_since = time.time()
                    log.warning("events dropped while the disk is full: %s", exc)
                self._dropped_events += 1
                return
            self._new_event.notify_all()

    def _insert_event(self, project: str, kind: str, subject: str, detail: dict[str, Any]) -> None:
        self._db.execute("INSERT INTO events (ts, project, kind, subject, detail) VALUES (?,?,?,?,?)",
                         (time.time(), project, kind, subject, json.dumps(detail)))

    def events_since(self, after_id: int, project: str | None = None, limit: int = 500,
                     since: float | None = None) -> list[Event]:
        """Events after ``after_id`` (and at or after the time ``since``), oldest first."""
        query = "SELECT id, ts, project, kind, subject, detail FROM events WHERE id>?"
        params: list[Any] = [after_id]
        if project:
            query += " AND project=?"
            params.append(project)
        if since is not None:
            query += " AND ts>=?"
            params.append(since)
        query += " ORDER BY id LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [Event(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def last_event_id(self) -> int:
        """The newest event's id, of any project (0 when there is none)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)

    def wait_for_event(self, after_id: int, timeout: float) -> None:
        with self._new_event:
            row = self._db.execute("SELECT MAX(id) FROM events").fetchone()
            if (row[0] or 0) <= after_id:
                self._new_event.wait(timeout)
