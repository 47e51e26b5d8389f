"""Rollout records survive a new connection (an engine restart) and sit beside the engine's tables."""

from __future__ import annotations

from pathlib import Path

from orchestrator.engine.rollout_store import RolloutRecord, RolloutStore
from orchestrator.engine.store import Store


def test_records_and_revisions_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    engine_store = Store(db)
    engine_store.save_revision("shop", "/srv", {"name": "shop", "services": {"web": {"image": "v1"}}})
    engine_store.save_revision("shop", "/srv", {"name": "shop", "services": {"web": {"image": "v2"}}})
    engine_store.record_event("shop", "revision", "shop", revision=2)
    store = RolloutStore(db)
    record = RolloutRecord(project="shop", service="web", kind="update", status="updating", revision=2,
                           from_hash="a", to_hash="b", total=3, started_at=1.0, updated_at=1.0)
    store.save(record.with_(updated=1))
    store.save(RolloutRecord(project="other", service="web", kind="update", status="paused", revision=1,
                             from_hash="x", to_hash="y", total=1))
    store.close()

    reopened = RolloutStore(db)
    saved = reopened.get("shop", "web")
    assert saved is not None and (saved.status, saved.updated, saved.total, saved.to_hash) == ("updating", 1, 3, "b")
    assert [r.project for r in reopened.for_project("shop")] == ["shop"]
    assert [rev for rev, _ in reopened.revisions("shop")] == [2, 1]
    assert reopened.revisions("shop")[0][1]["services"]["web"]["image"] == "v2"
    assert reopened.last_event_id() == 1
    reopened.forget_project("shop")
    assert reopened.get("shop", "web") is None and reopened.get("other", "web") is not None
    reopened.close()
    engine_store.close()
