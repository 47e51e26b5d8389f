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
    """Reads a project's current revision; the model is built once per revision (pydantic is slow)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, int], Project] = {}
        self._guard = threading.Lock()

    def load(self, name: str) -> Loaded | None:
        revision = self.store.current_revision(name)
        if revision is None:
            return None
        with self._guard:
            cached = self._cache.get((name, revision))
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
            self._cache[(project.name, revision)] = project


class ProjectLocks:
    """One lock per project: API verbs, the loop and rollout steps never change a project at once."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, project: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(project, threading.Lock())
