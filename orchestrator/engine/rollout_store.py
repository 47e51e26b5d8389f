"""Rollout state in the engine's SQLite file, so a rollout survives an engine restart.

One row per (project, service): the latest rollout of that service, with Swarm's status names.
A separate connection to the same WAL database keeps this table next to the engine's own
without widening `store.py`; revisions are read from the engine's `revisions` table.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    from_hash TEXT NOT NULL,
    to_hash TEXT NOT NULL,
    total INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (project, service)
);
"""


@dataclass(frozen=True)
class RolloutRecord:
    project: str
    service: str
    kind: str                 # update | rollback
    status: str               # updating | paused | completed | rollback_started | rollback_paused | rollback_completed
    revision: int             # the project revision this rollout converges to
    from_hash: str
    to_hash: str
    total: int                # dirty replicas when it started
    updated: int = 0
    failed: int = 0
    started_at: float = 0.0
    updated_at: float = 0.0
    message: str = ""

    def with_(self, **changes: Any) -> RolloutRecord:
        return replace(self, updated_at=time.time(), **changes)

    def view(self) -> dict[str, Any]:
        return asdict(self)


class RolloutStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def save(self, record: RolloutRecord) -> None:
        fields = asdict(record)
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO rollouts ({','.join(fields)}) VALUES ({','.join('?' * len(fields))})",
                tuple(fields.values()),
            )

    def get(self, project: str, service: str) -> RolloutRecord | None:
        rows = self._select("WHERE project=? AND service=?", (project, service))
        return rows[0] if rows else None

    def for_project(self, project: str) -> list[RolloutRecord]:
        return self._select("WHERE project=? ORDER BY service", (project,))

    def forget_project(self, project: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM rollouts WHERE project=?", (project,))

    def _select(self, where: str, params: tuple[Any, ...]) -> list[RolloutRecord]:
        names = list(RolloutRecord.__dataclass_fields__)
        with self._lock:
            rows = self._db.execute(f"SELECT {','.join(names)} FROM rollouts {where}", params).fetchall()
        return [RolloutRecord(**dict(zip(names, row, strict=True))) for row in rows]

    # --- the engine's tables, read only -----------------------------------------------------------
    def revisions(self, project: str, limit: int = 50) -> list[tuple[int, dict[str, Any]]]:
        """The newest stored revisions of the project (revision, spec)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT revision, spec FROM revisions WHERE project=? ORDER BY revision DESC LIMIT ?",
                (project, limit),
            ).fetchall()
        return [(int(r[0]), dict(json.loads(r[1]))) for r in rows]

    def last_event_id(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)
