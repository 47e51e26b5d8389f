"""What `up SERVICE...`, `--no-deps` and `--scale` ask for, as the project spec to store.

The engine keeps the whole desired state and its loop converges all of it, so a selection is
expressed in the stored spec itself: selected services (and, unless ``no_deps``, what they
depend on) take their new definitions; other services keep what was stored before, or are not
wanted yet. Pure functions on the spec dict (the loaded project's model as JSON, `Project.model_dump`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.errors import EngineError, NoSuchService


def dependencies_closure(services: Mapping[str, Any], selected: Iterable[str]) -> set[str]:
    """``selected`` and every service they depend on, transitively."""
    wanted: set[str] = set()
    todo = list(selected)
    while todo:
        name = todo.pop()
        if name in wanted or name not in services:
            continue
        wanted.add(name)
        todo += list((services[name] or {}).get("depends_on") or {})
    return wanted


def select_services(spec: dict[str, Any], previous: dict[str, Any] | None, selected: list[str],
                    no_deps: bool) -> dict[str, Any]:
    """The spec to store for `up [--no-deps] SERVICE...` (everything when nothing is selected)."""
    services: dict[str, Any] = spec.get("services") or {}
    if not selected:
        return spec
    NoSuchService.refuse_unknown(services, selected)
    wanted = set(selected) if no_deps else dependencies_closure(services, selected)
    kept: dict[str, Any] = (previous or {}).get("services") or {}
    chosen = {name: svc if name in wanted else kept[name]
              for name, svc in services.items() if name in wanted or name in kept}
    return {**spec, "services": chosen}


def with_scale(spec: dict[str, Any], scale: Mapping[str, int]) -> dict[str, Any]:
    """`--scale SVC=N` / `scale SVC=N`: replicas never change the config hash, so no recreate."""
    services: dict[str, Any] = spec.get("services") or {}
    NoSuchService.refuse_unknown(services, scale)
    result = copy.deepcopy(spec)
    for name, replicas in scale.items():
        if replicas < 0:
            raise EngineError(f"scale of {name} must not be negative: {replicas}")
        service = result["services"][name]
        deploy = service.get("deploy")
        if isinstance(deploy, dict) and deploy.get("replicas") is not None:
            deploy["replicas"] = replicas
        service["scale"] = replicas
    return result


def parse_scale(items: Iterable[str]) -> dict[str, int]:
    """`web=3 db=1` → {"web": 3, "db": 1}, with Compose's wording for bad input."""
    result: dict[str, int] = {}
    for item in items:
        name, sep, count = item.partition("=")
        if not sep or not name or not count.strip().isdigit():
            raise EngineError(f"invalid scale specifier {item!r}: expected SERVICE=NUMBER")
        result[name] = int(count)
    return result
