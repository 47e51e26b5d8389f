"""What `pyorch config` prints: the project as Compose v2 prints it, and its listings."""

from __future__ import annotations

import math
from typing import Any

from orchestrator.spec.canonical import compose_tree, used_resources
from orchestrator.spec.confighash import config_hash
from orchestrator.spec.errors import UnsupportedError
from orchestrator.spec.goformat import emit_json, format_float, sorted_keys
from orchestrator.spec.goyaml import emit_yaml
from orchestrator.spec.model import Project
from orchestrator.spec.raw import Variable, extract_variables


def render_config(project: Project, fmt: str = "yaml", normalize: bool = True) -> str:
    """The project in Compose's canonical form, in `yaml` or `json`.

    As Compose does, every `$` is written `$$`, so that loading the output again yields the same
    values instead of interpolating them a second time. ``normalize=False`` (`--no-normalize`)
    leaves out what Compose adds while normalising: resource names, the implicit `default`
    network, `dockerfile: Dockerfile`.
    """
    if fmt not in ("yaml", "json"):
        raise ValueError(f"unknown format {fmt!r} (yaml or json)")
    return _emit(compose_tree(project, fmt, normalize), fmt).replace("$", "$$")


def _emit(tree: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        _refuse_non_finite(tree)
        return emit_json(tree)
    return emit_yaml(tree)


def _refuse_non_finite(node: Any) -> None:
    """JSON has no infinity nor NaN: Compose's encoder fails on them (an `x-*` value `.inf`), so does this."""
    if isinstance(node, dict):
        for value in node.values():
            _refuse_non_finite(value)
    elif isinstance(node, list):
        for value in node:
            _refuse_non_finite(value)
    elif isinstance(node, float) and not math.isfinite(node):
        raise UnsupportedError(f"json: unsupported value: {format_float(node)}")


def render_raw(model: dict[str, Any], fmt: str) -> str:
    """`--no-interpolate`: the merged files as written, every mapping sorted as Go sorts a map."""
    if fmt not in ("yaml", "json"):
        raise ValueError(f"unknown format {fmt!r} (yaml or json)")

    def sort(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: sort(node[k]) for k in sorted_keys(node, fmt)}
        if isinstance(node, list):
            return [sort(v) for v in node]
        return node

    return _emit(sort(model), fmt)


def variables(model: dict[str, Any]) -> dict[str, Variable]:
    """`--variables`: the variables the files use, by name (not the top-level `name`'s, which
    Compose has replaced by the project name by then)."""
    found = extract_variables({k: v for k, v in model.items() if k != "name"})
    return {name: found[name] for name in sorted(found)}


def service_names(project: Project) -> list[str]:
    """`config --services`: enabled services, dependencies before the services that need them."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in project.services:
            return
        seen.add(name)
        for dependency in sorted(project.services[name].depends_on or {}):
            visit(dependency)
        order.append(name)

    for name in sorted(project.services):
        visit(name)
    return order


def model_names(project: Project) -> list[str]:
    used = used_resources(project)["models"]
    return [m.model for key, m in sorted(project.models.items()) if key in used]


def volume_names(project: Project) -> list[str]:
    """The volumes enabled services use (Compose leaves the others out of the model)."""
    return sorted(set(project.volumes) & used_resources(project)["volumes"])


def network_names(project: Project) -> list[str]:
    return sorted(set(project.networks) & used_resources(project)["networks"])


def profile_names(project: Project) -> list[str]:
    """Every profile a service declares, enabled or not (`config --profiles`)."""
    return project.declared_profiles or sorted({p for s in project.services.values() for p in (s.profiles or [])})


def images(project: Project) -> list[str]:
    """The image of each service; a build-only service is named `<project>-<service>` as Compose does."""
    return [project.services[name].image or f"{project.name}-{name}" for name in sorted(project.services)]


def hashes(project: Project, names: list[str] | None = None) -> dict[str, str]:
    """`config --hash`: service → the config hash pyorch labels its containers with."""
    return {n: config_hash(project, n) for n in sorted(names or list(project.services))}


def as_json_safe(project: Project) -> dict[str, Any]:
    """The JSON the CLI sends to the engine (`Project.model_validate` reads it back)."""
    data: dict[str, Any] = project.model_dump(mode="json")
    return data
