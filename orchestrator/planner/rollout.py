"""Rolling updates as Swarm does them, as pure functions (see shared/reference/semantics.md §1).

The engine's rollout runner (`orchestrator/engine/rollouts.py`) does the side effects; every
decision it takes comes from here: the configuration with Swarm's defaults, which containers are
dirty and in which order, how many workers, the steps of one slot for each `order`, how a new
replica is judged, and what a failure leads to.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.planner.model import ObservedContainer, is_outdated

DEFAULT_MONITOR_S = 5.0
NO_HEALTHCHECK_READY_S = 30.0     # a replica without a healthcheck must be running within this
READY_MARGIN_S = 5.0

FailureAction = Literal["pause", "continue", "rollback"]
Order = Literal["stop-first", "start-first"]
Kind = Literal["update", "rollback"]

# Swarm's UpdateStatus states, spelled in lower case.
UPDATING = "updating"
PAUSED = "paused"
COMPLETED = "completed"
ROLLBACK_STARTED = "rollback_started"
ROLLBACK_PAUSED = "rollback_paused"
ROLLBACK_COMPLETED = "rollback_completed"
ACTIVE_STATES = (UPDATING, ROLLBACK_STARTED)
PAUSED_STATES = (PAUSED, ROLLBACK_PAUSED)


@dataclass(frozen=True)
class RolloutConfig:
    """`update_config` / `rollback_config` resolved: every field has a value."""

    parallelism: int = 1
    delay: float = 0.0
    monitor: float = DEFAULT_MONITOR_S
    failure_action: FailureAction = "pause"
    max_failure_ratio: float = 0.0
    order: Order = "stop-first"

    @classmethod
    def from_compose(cls, config: Any | None) -> RolloutConfig:
        """Swarm's defaults for what the file leaves out (swarmkit api/defaults/service.go).

        A monitor of 0 becomes 5 s, as through the Docker API (moby converts 0 to "unset").
        """
        if config is None:
            return cls()
        monitor = getattr(config, "monitor", None)
        parallelism = getattr(config, "parallelism", None)
        return cls(
            parallelism=1 if parallelism is None else int(parallelism),
            delay=float(getattr(config, "delay", None) or 0.0),
            monitor=float(monitor) if monitor else DEFAULT_MONITOR_S,
            failure_action=getattr(config, "failure_action", None) or "pause",
            max_failure_ratio=float(getattr(config, "max_failure_ratio", None) or 0.0),
            order=getattr(config, "order", None) or "stop-first",
        )


def is_rolling(deploy: Any | None) -> bool:
    """pyorch rolls a service when its file asks for Swarm's behaviour (`update_config` or
    `rollback_config`); otherwise it recreates like Compose. See docs/rollouts.md."""
    if deploy is None:
        return False
    return getattr(deploy, "update_config", None) is not None or getattr(deploy, "rollback_config", None) is not None


def version(config_hash: str, image_id: str | None) -> str:
    """What a rollout goes from and to: the config hash, and the image `up` pinned, when it did."""
    return f"{config_hash}@{image_id}" if image_id else config_hash


def split_version(text: str) -> tuple[str, str | None]:
    config_hash, _, image_id = text.partition("@")
    return config_hash, image_id or None


def container_version(c: ObservedContainer) -> str:
    return version(c.config_hash, c.image_id or None)


def same_version(candidate: str, wanted: str) -> bool:
    """``candidate`` (a stored revision's) is ``wanted``; a revision stored before images were
    pinned stands for any image of its configuration."""
    if candidate == wanted:
        return True
    candidate_hash, candidate_image = split_version(candidate)
    return candidate_image is None and candidate_hash == split_version(wanted)[0]


def dirty_containers(containers: Sequence[ObservedContainer], target: str) -> list[ObservedContainer]:
    """Containers to replace (``target``: a `version`), in the order they are taken: dead ones
    first (replacing them costs no capacity), then by replica number."""
    config_hash, image_id = split_version(target)
    dirty = [c for c in containers if is_outdated(c, config_hash, image_id)]
    return sorted(dirty, key=lambda c: (c.status == "running", c.number, c.created_at))


def worker_count(parallelism: int, dirty: int) -> int:
    """Swarm: parallelism 0 means all dirty slots at once."""
    if dirty <= 0:
        return 0
    return dirty if parallelism == 0 else min(parallelism, dirty)


def batches(items: Sequence[str], parallelism: int) -> list[list[str]]:
    """The slots the workers take together when every slot takes as long (for status and tests).

    The runner is a worker pool like swarmkit's, so with uneven slots a worker may start its next
    slot before the others finish; the set of slots in flight never exceeds ``parallelism``.
    """
    size = worker_count(parallelism, len(items))
    return [list(items[i:i + size]) for i in range(0, len(items), size)] if size else []


def failure_triggers(failures: int, dirty_total: int, config: RolloutConfig) -> bool:
    """`failures / dirty > max_failure_ratio`, never for `continue` (Swarm does not even watch)."""
    if config.failure_action == "continue" or dirty_total <= 0:
        return False
    return failures / dirty_total > config.max_failure_ratio


def failure_outcome(kind: Kind, config: RolloutConfig) -> tuple[str, bool]:
    """(status to record, whether to roll back) once failures trigger: never roll back a rollback."""
    if kind == "rollback":
        return ROLLBACK_PAUSED, False
    if config.failure_action == "rollback":
        return ROLLBACK_STARTED, True
    return PAUSED, False


def resumed_counts(total: int, updated: int, failed: int, dirty: int) -> tuple[int, int]:
    """(total, updated) of a rollout an engine restart interrupted, from what is observed now.

    A slot the restart cut short (its new replica created, not yet counted), or a replica the
    reconcile pass re-created meanwhile, is no longer dirty although it was never counted: every
    replica of the rollout that is not dirty and did not fail has been updated. Dirty replicas
    beyond the original set (a scale-up meanwhile) widen the total.
    """
    updated = max(updated, total - dirty - failed)
    return max(total, updated + dirty), updated


def completed_status(kind: Kind) -> str:
    return ROLLBACK_COMPLETED if kind == "rollback" else COMPLETED


def active_status(kind: Kind) -> str:
    return ROLLBACK_STARTED if kind == "rollback" else UPDATING


Step = Literal["drain_old", "remove_old", "create_new", "wait_ready", "monitor", "admit_new"]


def slot_steps(order: Order) -> tuple[Step, ...]:
    """What replacing one replica means for each order.

    start-first: the new replica runs, becomes ready, survives `monitor`, joins the published
    port; only then the old one leaves the balancer, its connections drain and it stops. A new
    replica that fails never receives a request and the old one keeps serving.
    stop-first: capacity drops by one during the slot, as in Swarm's default.
    """
    if order == "start-first":
        return ("create_new", "wait_ready", "monitor", "admit_new", "drain_old", "remove_old")
    return ("drain_old", "remove_old", "create_new", "wait_ready", "monitor", "admit_new")


@dataclass(frozen=True)
class ReplicaView:
    """What the runner sees of a new replica at one instant."""

    status: str                       # created | running | paused | exited | missing
    has_healthcheck: bool
    health: str | None                # starting | healthy | unhealthy | None (no probe yet)
    restarted: bool                   # it exited and was restarted since it was created
    seen_unhealthy: bool              # an unhealthy result was recorded since it was created


def judge_new_replica(view: ReplicaView) -> Literal["pending", "ready", "failed"]:
    """Swarm's rule (moby's container controller): with a healthcheck, running means healthy."""
    if view.status in ("exited", "missing") or view.restarted or view.seen_unhealthy:
        return "failed"
    if view.health == "unhealthy":
        return "failed"
    if view.status != "running":
        return "pending"
    if view.has_healthcheck and view.health != "healthy":
        return "pending"
    return "ready"


def ready_deadline(has_healthcheck: bool, interval: float = 0.0, timeout: float = 0.0, retries: int = 0,
                   start_period: float = 0.0) -> float:
    """How long a new replica may take to become ready before the slot counts as failed.

    Swarm waits forever (a TODO in updater.go); pyorch bounds it by what the healthcheck itself
    allows: the start period plus every retry's interval and timeout.
    """
    if not has_healthcheck:
        return NO_HEALTHCHECK_READY_S
    return start_period + (retries + 1) * (interval + timeout) + READY_MARGIN_S


def source_hash(dirty: Sequence[ObservedContainer]) -> str:
    """The version being replaced: the one most dirty containers run."""
    counts = Counter(container_version(c) for c in dirty)
    return counts.most_common(1)[0][0] if counts else ""


def previous_service_spec(
    history: Sequence[tuple[int, dict[str, Any]]], service: str, current_hash: str,
    hash_of: Callable[[dict[str, Any], str], str | None], wanted_hash: str | None = None,
) -> tuple[int, dict[str, Any]] | None:
    """The service's config to roll back to, from the stored revisions (newest first).

    ``wanted_hash`` given (automatic rollback): the newest revision whose service hashes to it.
    Otherwise (manual rollback): the newest revision whose service differs from the current one,
    so a second rollback undoes the first, as Swarm's Spec/PreviousSpec swap does.
    """
    for revision, spec in sorted(history, key=lambda item: -item[0]):
        services = spec.get("services") or {}
        if service not in services:
            continue
        digest = hash_of(spec, service)
        if digest is None:
            continue
        if (wanted_hash is not None and same_version(digest, wanted_hash)) or (
                wanted_hash is None and digest != current_hash):
            return revision, dict(services[service])
    return None


def spec_with_service(current: dict[str, Any], service: str, service_spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of the project spec whose ``service`` is replaced (replicas stay as they are now)."""
    result = dict(current)
    services = dict(result.get("services") or {})
    restored = dict(service_spec)
    now = services.get(service) or {}
    deploy_now = now.get("deploy") or {}
    if "replicas" in deploy_now or "deploy" in restored:
        deploy = dict(restored.get("deploy") or {})
        if "replicas" in deploy_now:
            deploy["replicas"] = deploy_now["replicas"]
        else:
            deploy.pop("replicas", None)
        restored["deploy"] = deploy
    if "scale" in now:
        restored["scale"] = now["scale"]
    services[service] = restored
    result["services"] = services
    return result
