"""`up --wait` and `rollout status --wait` wait on what the engine says of each rollout (``active``,
``completed``), not on a copy of the planner's states (tests/unit/engine/test_rollouts.py checks
the engine's side)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.cli import cmd_rollout
from orchestrator.cli.cmd_rollout import RolloutFailed, wait_rollouts


class Client:
    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)

    def request(self, method: str, path: str, body: Any = None) -> list[dict[str, Any]]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def follow(self) -> None:
        """A session following the engine calls this (it then never starts one): nothing to do here."""


def row(status: str, active: bool, completed: bool) -> dict[str, Any]:
    return {"service": "web", "kind": "update", "status": status, "updated": 1, "total": 2, "failed": 0,
            "revision": 3, "message": "", "active": active, "completed": completed}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_rollout, "POLL_S", 0.0)


def test_waits_while_active_and_returns_when_completed() -> None:
    client = Client([row("updating", True, False)], [row("updating", True, False)], [row("completed", False, True)])
    wait_rollouts(client, "demo", 0, None, quiet=True)  # type: ignore[arg-type]
    assert client.answers == [[row("completed", False, True)]]


def test_an_ended_rollout_that_did_not_complete_is_a_failure() -> None:
    with pytest.raises(RolloutFailed, match="paused"):
        wait_rollouts(Client([row("paused", False, False)]), "demo", 0, None, quiet=True)  # type: ignore[arg-type]
