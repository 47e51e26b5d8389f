"""Which restart policy a Compose service gets: `restart:` or `deploy.restart_policy`.

Compose v2 precedence (docker/compose pkg/compose/create.go getRestartPolicy): when
`deploy.restart_policy` is present it wins over `restart:`. Compose hands it to the Docker
engine and silently drops `delay` and `window`; pyorch honours the whole block with Swarm's
semantics instead (planner/swarm_restart.py). Without it, `restart:` uses Docker's restart
manager with its backoff (planner/restart.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.planner.swarm_restart import DEFAULT_DELAY_S, SwarmRestartPolicy
from orchestrator.spec import Service


@dataclass(frozen=True)
class ServiceRestart:
    docker: str                             # `restart:` value for Docker's manager ("no" when Swarm's applies)
    swarm: SwarmRestartPolicy | None

    @property
    def restarts(self) -> bool:
        """Whether the service restarts at all (used to restart unhealthy containers)."""
        if self.swarm is not None:
            return self.swarm.condition != "none"
        return self.docker != "no"


def restart_of(service: Service) -> ServiceRestart:
    policy = service.deploy.restart_policy if service.deploy is not None else None
    if policy is None:
        return ServiceRestart(str(service.restart or "no"), None)
    return ServiceRestart("no", SwarmRestartPolicy(
        condition=policy.condition or "any",
        delay=float(policy.delay) if policy.delay is not None else DEFAULT_DELAY_S,
        max_attempts=policy.max_attempts or 0,
        window=float(policy.window) if policy.window is not None else 0.0,
    ))
