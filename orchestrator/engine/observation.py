"""One observation: every container with its labels parsed, shared by every step of a reconcile
pass instead of each step reading again (taken from what the engine keeps, observed.py).

`generation` is the executor's write counter when the read began: a step that must not act on a
stale view (publishing) reads again when a write has completed since.

Containers being removed, and DEAD ones (a create or removal left half done by a process that
died: docs/engine.md, "Crash consistency"), are nobody's replicas: the project views leave them
out, so the planner replaces them, and `dead` lists the latter for the executor to collect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from orchestrator.engine.labels import Labelled
from orchestrator.errors import EngineError
from runtime.container.state import DEAD, REMOVING


class Observation:
    def __init__(self, containers: list[Labelled], generation: int = 0) -> None:
        """``containers``: every container, its labels parsed already (observed.py keeps them so)."""
        self.generation = generation
        self.all = containers
        self.dead: list[Labelled] = [c for c in self.all if c.status == DEAD]
        self._by_project: dict[str, list[Labelled]] = {}
        for c in self.all:
            if c.project and c.status not in _GOING:
                self._by_project.setdefault(c.project, []).append(c)

    def project(self, name: str) -> list[Labelled]:
        """The project's replicas (one-off `run` containers are not among them)."""
        return list(self._by_project.get(name, ()))

    def service(self, project: str, service: str) -> list[Labelled]:
        return [c for c in self._by_project.get(project, ()) if c.service == service]

    def selected(self, project: str, services: Iterable[str], containers: Iterable[str] = ()) -> list[Labelled]:
        """The project's replicas of ``services`` (all of them when ``services`` is empty), only those
        named in ``containers`` when it names any; a name that is not a replica there is refused."""
        wanted, named = set(services), set(containers)
        chosen = [c for c in self._by_project.get(project, ()) if not wanted or c.service in wanted]
        if not named:
            return chosen
        unknown = sorted(named - {c.name for c in chosen})
        if unknown:
            raise EngineError(f"no such container in {project}: {', '.join(unknown)}")
        return [c for c in chosen if c.name in named]

    def running(self, project: str) -> list[Labelled]:
        return [c for c in self._by_project.get(project, ()) if c.status == "running"]

    def oneoffs(self, project: str) -> list[Labelled]:
        return [c for c in self.all if c.oneoff_project == project and c.status not in _GOING]

    def dead_of(self, project: str) -> list[Labelled]:
        """The project's DEAD containers, replicas and one-offs."""
        return [c for c in self.dead if project in (c.project, c.oneoff_project)]

    def find(self, cid: str) -> Labelled | None:
        return next((c for c in self.all if c.id == cid), None)


Observe = Callable[[], Observation]
_GOING = (DEAD, REMOVING)
