"""The engine's rollout routes: rollout status and rollback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from orchestrator.engine.route_handler import Replier as Handler
from orchestrator.errors import EngineError


class Rollouts(Protocol):
    """What these routes need of the rollout controller (rollouts.RolloutController)."""

    def status(self, project: str, /) -> list[dict[str, Any]]: ...
    def rollback(self, project: str, service: str, /) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RolloutRoutes:
    rollouts: Rollouts

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        match method, parts:
            case "GET", ["v1", "projects", name, "rollouts"]:
                handler.reply(200, self.rollouts.status(name))
            case "POST", ["v1", "projects", name, "rollback"]:
                service = handler.body().get("service")
                if not isinstance(service, str) or not service:
                    raise EngineError("rollback needs a service name")
                handler.reply(200, self.rollouts.rollback(name, service))
            case _:
                return False
        return True
