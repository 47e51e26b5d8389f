"""The project loader keeps the model of each project's current revision only."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

from orchestrator.engine.projects import ProjectLoader
from orchestrator.engine.store import Store


def _spec(revision: int) -> dict[str, Any]:
    return {"name": "p", "working_dir": "/w",
            "services": {"web": {"image": "busybox", "environment": {"REVISION": str(revision)}}}}


def test_a_new_revision_lets_the_model_of_the_old_one_go(tmp_path: Path) -> None:
    """One model per revision, kept for ever, grew the engine at every `up` (issue 20's soak)."""
    store = Store(tmp_path / "e.db")
    loader = ProjectLoader(store)
    store.save_revision("p", "/w", _spec(1))
    first = loader.load("p")
    assert first is not None and first.revision == 1
    old = weakref.ref(first.project)
    del first
    for revision in range(2, 6):
        store.save_revision("p", "/w", _spec(revision))
        loaded = loader.load("p")
        assert loaded is not None and loaded.revision == revision
        assert loaded.project.services["web"].environment == {"REVISION": str(revision)}
        assert loader.load("p") is not None and loader.load("p").project is loaded.project  # type: ignore[union-attr]
    gc.collect()
    assert old() is None
