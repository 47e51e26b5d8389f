"""Observed state kept from events, re-listed from the kernel on a resync (Kubernetes' informer
cache, in small).

Reading every container (a directory scan, a JSON record and a /proc read each) on every pass
made an idle engine's cost grow with the fleet. Instead the engine keeps the last reading of
each container and reads one again only when something says it changed: the executor after each
write (create, start, stop, kill, pause, remove), the shim's exit event for it. A full listing
from the kernel (`relist`) replaces everything on a resync (every few tens of seconds), when the
engine starts, when the shim's event stream breaks, and at the start of every API verb that
changes a project: so an event that never came is healed within one resync period (the
level-triggered invariant, DESIGN invariant 1), and observed state still comes from the kernel,
not from memory (invariant 3).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from orchestrator.engine.labels import Labelled
from runtime.container.state import ContainerInfo
from runtime.errors import ContainerNotFound, RuntimeFailure


class ObservedState:
    def __init__(self, list_all: Callable[[], list[ContainerInfo]], inspect: Callable[[str], ContainerInfo]) -> None:
        self._list_all = list_all
        self._inspect = inspect
        self._containers: dict[str, Labelled] = {}
        self._dirty: set[str] = set()  # changed since they were read: read again before the next answer
        self._listed = False  # nothing is known until the first full listing
        self._guard = threading.Lock()  # the maps above
        self._reading = threading.Lock()  # one reader at a time, so an older read never lands after a newer one,
        # and no answer is given while another thread reads a container again

    def touch(self, cid: str) -> None:
        """``cid`` changed (it was written, or it exited): the next answer reads it again."""
        with self._guard:
            self._dirty.add(cid)

    def relist(self) -> list[Labelled]:
        """Every container read from the kernel now; what was kept is replaced."""
        with self._reading:
            return self._relist()

    def _relist(self) -> list[Labelled]:
        with self._guard:
            self._dirty.clear()  # the listing below reads them; a touch from now on stays
        fresh = {info.id: Labelled.of(info) for info in self._list_all()}
        with self._guard:
            self._containers = fresh
            self._listed = True
            return self._sorted()

    def containers(self) -> list[Labelled]:
        """Every container as last seen, the changed ones read again first (a full listing the
        first time).

        Whole under the reading lock: a container touched before this call is either read again
        here or by a read under way in another thread, which took it out of ``_dirty`` and which
        this call waits for. Answering from what is kept while that read is under way would give
        the container's state from before the write that touched it (a container just started
        still `created`: the DNS rebuilt on its start would leave its names out until the next
        resync)."""
        with self._reading:
            with self._guard:
                listed, todo = self._listed, set(self._dirty)
                self._dirty.clear()
            if not listed:
                return self._relist()
            read: dict[str, Labelled | None] = {}
            for cid in sorted(todo):
                try:
                    read[cid] = Labelled.of(self._inspect(cid))
                except ContainerNotFound:
                    read[cid] = None  # removed
                except RuntimeFailure:
                    with self._guard:
                        self._dirty.add(cid)  # unreadable right now: try again next time
            with self._guard:
                for cid, container in read.items():
                    if container is None:
                        self._containers.pop(cid, None)
                    else:
                        self._containers[cid] = container
                return self._sorted()

    def project_of(self, cid: str) -> str | None:
        """The project of a container as last seen (a one-off's too); None when it is not known."""
        with self._guard:
            c = self._containers.get(cid)
        if c is None:
            return None
        return c.project or c.oneoff_project or ""

    def name_of(self, cid: str) -> str:
        """A container's name as last seen (its short id when it is not known)."""
        with self._guard:
            c = self._containers.get(cid)
        return c.name if c is not None else cid[:12]

    def _sorted(self) -> list[Labelled]:
        return [self._containers[cid] for cid in sorted(self._containers)]
