"""Attached `up` waits for a container the engine will restart: the engine's `ps` rows say which
(``restarts_on_exit``, tests/unit/engine/test_queries.py), the CLI only reads them."""

from __future__ import annotations

from orchestrator.cli.attached import finished


def test_the_project_is_finished_when_nothing_will_restart() -> None:
    exited = {"status": "exited", "restarts_on_exit": False}
    assert finished([{**exited, "service": "plain"}, {**exited, "service": "swarm_none"}])
    assert not finished([{**exited, "service": "plain"}, {**exited, "service": "always", "restarts_on_exit": True}])
    assert not finished([{**exited, "service": "plain"}, {"status": "running", "service": "web"}])
    assert not finished([])
