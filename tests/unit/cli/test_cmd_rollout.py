"""The rollout states the CLI waits on are the ones the engine reports."""

from __future__ import annotations

from orchestrator.cli.cmd_rollout import ACTIVE_STATES, COMPLETED_STATES
from orchestrator.planner import rollout


def test_the_cli_knows_the_planners_states() -> None:
    assert ACTIVE_STATES == rollout.ACTIVE_STATES
    assert COMPLETED_STATES == (rollout.completed_status("update"), rollout.completed_status("rollback"))
