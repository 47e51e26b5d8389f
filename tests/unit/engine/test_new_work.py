"""The requests refused while the state root's filesystem is full are routes the engine serves,
and none of them is one that frees space or stops things."""

from __future__ import annotations

from orchestrator.engine.api_schema import NEW_WORK, ROUTES


def test_every_request_for_new_work_is_a_route() -> None:
    posts = {r.path for r in ROUTES if r.method == "POST"}
    assert NEW_WORK <= posts, sorted(NEW_WORK - posts)


def test_what_frees_space_or_stops_things_stays_open() -> None:
    for verb in ("down", "stop", "kill", "rm", "pause", "remove", "prune", "shutdown", "logout"):
        assert not [path for path in NEW_WORK if path.endswith("/" + verb)], verb
