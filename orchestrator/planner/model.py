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
    # The image `up` resolved the service's tag to (Compose's com.docker.compose.image label):
    # a container made from another image is outdated. None: no image is pinned (compare hashes only).
    image_id: str | None = None
    # depends_on entries with `restart: true`: when one of these is recreated, this service's
    # running containers are stopped first and started again after it (Compose's stopDependentContainers).
    restart_with: tuple[str, ...] = ()
    # The service whose container's network namespace this one joins (`network_mode: service:X`,
    # or `container:NAME` naming a container of the project): recreated with it.
    network_parent: str | None = None


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
    image_id: str = ""                       # the image the container was made from
    network_parent: str = ""                 # the container whose network namespace it joined, if any


def is_outdated(container: ObservedContainer, config_hash: str, image_id: str | None) -> bool:
    """Compose's rule: another configuration, or another image than the one `up` resolved."""
    return container.config_hash != config_hash or (image_id is not None and container.image_id != image_id)


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
    # A start someone asked for (`up`, `start`, `restart`), not a restart policy's: the Swarm
    # restart history starts over instead of counting this one.
    manual: bool = False


@dataclass(frozen=True)
class StartContainer:
    id: str
    name: str
    service: str


@dataclass(frozen=True)
class StopContainer:
    """Stop a running container and keep it (it is started again by a later wave of the plan)."""

    id: str
    name: str
    service: str
    reason: str


Action = CreateContainer | RemoveContainer | RestartContainer | StartContainer | StopContainer


@dataclass
class Plan:
    """Actions grouped in waves: a wave may run concurrently; waves run in order (depends_on)."""

    waves: list[list[Action]] = field(default_factory=list)

    @property
    def actions(self) -> list[Action]:
        return [a for wave in self.waves for a in wave]

    def __bool__(self) -> bool:
        return any(self.waves)
