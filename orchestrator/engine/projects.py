"""The stored desired state as models: a project's current revision, validated once and cached,
and the per-project locks that keep two writers of one project apart."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from orchestrator.engine.store import Store
from orchestrator.spec import Project


@dataclass(frozen=True)
class Loaded:
    """A project as stored now: its model and the revision it came from."""

    project: Project
    revision: int


class ProjectLoader:
    """Reads a project's current revision; the model is built once per revision (pydantic is slow).

    Only the newest model of each project is kept: one per revision grew the engine by a model
    (~40 KB) at every `up` for as long as it ran (bench/bench_soak.py showed it).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[int, Project]] = {}
        self._guard = threading.Lock()

    def load(self, name: str) -> Loaded | None:
        revision = self.store.current_revision(name)
        if revision is None:
            return None
        with self._guard:
            entry = self._cache.get(name)
        cached = entry[1] if entry is not None and entry[0] == revision else None
        if cached is None:
            spec = self.store.current_spec(name)
            if spec is None:  # `down` removed it between the two reads
                return None
            cached = Project.model_validate(spec)
            self.remember(cached, revision)
        return Loaded(cached, revision)

    def remember(self, project: Project, revision: int) -> None:
        """A model just validated for a revision just stored (saves validating it again)."""
        with self._guard:
            kept = self._cache.get(project.name)
            if kept is None or kept[0] <= revision:
                self._cache[project.name] = (revision, project)


class ProjectLocks:
    """One lock per project: API verbs, the loop and rollout steps never change a project at once."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, project: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(project, threading.Lock())
