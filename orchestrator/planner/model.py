"""The planner's view of the world: what is wanted, what is there, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.planner.swarm_restart import SwarmRestartPolicy


@dataclass(frozen=True)
class DesiredService:
    name: str
    replicas: int
    config_hash: str
    restart: str = "no"                       # no | always | on-failure[:N] | unless-stopped
    depends_on: tuple[str, ...] = ()
    container_name: str | None = None
    rolling: bool = False                    # outdated replicas are left to the rollout runner
    swarm_restart: SwarmRestartPolicy | None = None  # deploy.restart_policy: replaces `restart`


@dataclass(frozen=True)
class ObservedContainer:
    id: str
    name: str
    service: str
    number: int
    config_hash: str
    status: str                              # created | running | exited
    created_at: float = 0.0
    started_at: float = 0.0
    exit_code: int | None = None
    finished_at: float | None = None
    restart_count: int = 0
    stopped_by_user: bool = False


@dataclass(frozen=True)
class CreateContainer:
    service: str
    number: int
    name: str
    replaces: str | None = None              # id of the container this one replaces


@dataclass(frozen=True)
class RemoveContainer:
    id: str
    name: str
    service: str
    reason: str


@dataclass(frozen=True)
class RestartContainer:
    id: str
    name: str
    service: str
    not_before: float                        # wall clock time (epoch seconds)
    restart_count: int
    delay: float                             # the backoff delay this restart uses (doubles next time)


@dataclass(frozen=True)
class StartContainer:
    id: str
    name: str
    service: str


Action = CreateContainer | RemoveContainer | RestartContainer | StartContainer


@dataclass
class Plan:
    """Actions grouped in waves: a wave may run concurrently; waves run in order (depends_on)."""

    waves: list[list[Action]] = field(default_factory=list)

    @property
    def actions(self) -> list[Action]:
        return [a for wave in self.waves for a in wave]

    def __bool__(self) -> bool:
        return any(self.waves)
