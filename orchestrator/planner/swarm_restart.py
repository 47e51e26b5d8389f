"""Swarm's restart supervisor (`deploy.restart_policy`) as pure functions.

swarmkit manager/orchestrator/restart: condition none | on-failure | any (default any), a fixed
delay before the replacement starts (default 5 s; an explicit 0 means none), at most
``max_attempts`` restarts (0 = unlimited), counted only inside ``window`` seconds before the
failure when a window is set (0 = since the spec last changed). Unlike Swarm, the history is
kept in the engine's store, so it survives an engine restart; like Swarm, a new service
definition starts a new history (a recreated container has a new id, and history is per id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_DELAY_S = 5.0
CONDITIONS = ("none", "on-failure", "any")


@dataclass(frozen=True)
class SwarmRestartPolicy:
    condition: str = "any"
    delay: float = DEFAULT_DELAY_S
    max_attempts: int = 0
    window: float = 0.0

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"restart_policy.condition must be one of {', '.join(CONDITIONS)}: {self.condition!r}")
        if self.delay < 0 or self.window < 0 or self.max_attempts < 0:
            raise ValueError("restart_policy delay, window and max_attempts must not be negative")


def restarts_counted(history: Sequence[float], failed_at: float, window: float) -> int:
    """Restarts that count against max_attempts for a failure at ``failed_at``.

    With a window: records in [failed_at - window, failed_at), as swarmkit prunes older ones and
    ignores those not strictly before the failure. Without: every record.
    """
    if window <= 0:
        return len(history)
    lookback = failed_at - window
    return sum(1 for ts in history if lookback <= ts < failed_at)


def swarm_should_restart(policy: SwarmRestartPolicy, exit_code: int, history: Sequence[float],
                         failed_at: float, stopped_by_user: bool) -> bool:
    """Swarm's shouldRestart; a container stopped by hand (`pyorch stop`/`kill`) stays stopped."""
    if stopped_by_user or policy.condition == "none":
        return False
    if policy.condition == "on-failure" and exit_code == 0:
        return False
    if policy.max_attempts == 0:
        return True
    return restarts_counted(history, failed_at, policy.window) < policy.max_attempts
