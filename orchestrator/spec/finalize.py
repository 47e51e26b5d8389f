"""Last phases on the merged project: env_file → environment, defaults, references, profiles, warnings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.spec.dotenv import read_env_file
from orchestrator.spec.errors import ComposeError, CycleError, Location, SchemaError, UndefinedReferenceError
from orchestrator.spec.logging_checks import check_logging
from orchestrator.spec.model import Network, Project
from orchestrator.spec.network_checks import check_network_addresses
from orchestrator.spec.support import unapplied_warnings
from orchestrator.spec.validate import schema_error
from orchestrator.spec.yamlsource import Path_, SourceMap

HEALTHCHECK_DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0, "start_interval": 5.0}


class _Locator:
    """Find where a merged path was written: the last document that has it."""

    def __init__(self, sources: Sequence[SourceMap]) -> None:
        self.sources = list(sources)

    def __call__(self, path: Path_) -> Location:
        for source in reversed(self.sources):
            if path in source.values or path in source.keys:
                return source.locate(path)
        for source in reversed(self.sources):
            if path[:2] in source.values:
                return source.locate(path)
        return Location(self.sources[-1].file) if self.sources else Location("-")

    def source_for(self, path: Path_) -> SourceMap:
        for source in reversed(self.sources):
            if path[:2] in source.values or path[:2] in source.keys:
                return source
        return self.sources[-1] if self.sources else SourceMap("-")


def finalize_project(name: str, project_dir: Path, merged: dict[str, Any], sources: Sequence[SourceMap],
                     environment: Mapping[str, str], profiles: Sequence[str], named: Sequence[str],
                     warnings: list[str]) -> Project:
    locate = _Locator(sources)
    services_data = merged.get("services") or {}
    for service_name, body in services_data.items():
        body.pop("extends", None)
        body["environment"] = _resolve_environment(service_name, body, environment, locate)
        body.pop("env_file", None)
        body["name"] = service_name
    data = {k: v for k, v in merged.items() if k not in ("name", "version", "include")}
    data.update(name=name, working_dir=str(project_dir))
    try:
        project = Project.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"]
        source = locate.source_for(tuple(first))
        raise schema_error(exc, data, source, ()) from None

    _check_images(project, locate)
    _apply_profiles(project, profiles, named, locate, warnings)
    _apply_defaults(project)
    _check_references(project, locate)
    check_network_addresses(project, locate)
    check_logging(project, locate, warnings)
    _check_dependency_cycles(project, locate)
    project.referenced_environment = _referenced_environment(project, environment)
    for warning in unapplied_warnings(project.services):
        if warning not in warnings:
            warnings.append(warning)
    project.warnings = list(dict.fromkeys(warnings))
    return project


def _referenced_environment(project: Project, environment: Mapping[str, str]) -> dict[str, str]:
    """What `secrets.*.environment` and `configs.*.environment` name; a missing variable is
    reported when a container needs it (as Compose does), so `config` still renders the file."""
    names = {obj.environment for obj in project.secrets.values() if obj.environment}
    names |= {obj.environment for obj in project.configs.values() if obj.environment}
    return {name: environment[name] for name in sorted(names) if name in environment}


def _resolve_environment(service: str, body: dict[str, Any], environment: Mapping[str, str],
                         locate: _Locator) -> dict[str, str | None]:
    """env_file entries in order, then `environment` on top; bare names come from the environment."""
    result: dict[str, str | None] = {}
    for index, entry in enumerate(body.get("env_file") or []):
        path = Path(entry["path"])
        if not path.is_file():
            if entry.get("required", True):
                raise ComposeError(f"service {service!r}: env file {path} not found",
                                   locate(("services", service, "env_file", index)))
            continue
        raw = entry.get("format") == "raw"
        result.update(read_env_file(path, environment, interpolate=not raw))
    result.update(body.get("environment") or {})
    return {k: (environment.get(k) if v is None else v) for k, v in result.items()}


def _check_images(project: Project, locate: _Locator) -> None:
    for name, service in project.services.items():
        if not service.image and not service.build and not service.provider:
            raise SchemaError(f"service {name!r} has neither an image nor a build context specified",
                              locate(("services", name)))


def _apply_profiles(project: Project, profiles: Sequence[str], named: Sequence[str], locate: _Locator,
                    warnings: list[str]) -> None:
    """Keep services without profiles, with an enabled profile, or named explicitly (plus their deps)."""
    enabled = set(profiles)
    for name in named:
        if name not in project.services:
            raise UndefinedReferenceError(f"no such service: {name!r}")
    active = {
        name for name, svc in project.services.items()
        if not svc.profiles or "*" in enabled or enabled & set(svc.profiles)
    }
    pending = list(named)
    while pending:
        name = pending.pop()
        if name in active and name not in named:
            continue
        active.add(name)
        for dep in (project.services[name].depends_on or {}):
            if dep in project.services and dep not in active:
                pending.append(dep)
    for name, service in project.services.items():
        if name not in active:
            continue
        for dep, spec in list((service.depends_on or {}).items()):
            if dep in active:
                continue
            if not spec.required:
                assert service.depends_on is not None
                del service.depends_on[dep]
                state = "disabled by profiles" if dep in project.services else "not defined"
                warnings.append(f"service {name}: optional dependency {dep!r} is {state}; ignored")
                continue
            reason = "is not enabled by the active profiles" if dep in project.services else "is not defined"
            raise UndefinedReferenceError(f"service {name!r} depends on service {dep!r}, which {reason}",
                                          locate(("services", name, "depends_on", dep)))
    project.disabled_services = sorted(set(project.services) - active)
    project.services = {k: v for k, v in project.services.items() if k in active}


def _apply_defaults(project: Project) -> None:
    needs_default = False
    for service in project.services.values():
        if service.network_mode:
            continue
        if not service.networks:
            service.networks = {"default": None}
        if "default" in service.networks:
            needs_default = True
        if service.healthcheck is not None and service.healthcheck.test and service.healthcheck.test[0] != "NONE" \
                and not service.healthcheck.disable:
            for key, value in HEALTHCHECK_DEFAULTS.items():
                if getattr(service.healthcheck, key) is None:
                    setattr(service.healthcheck, key, value)
    if needs_default and "default" not in project.networks:
        project.networks["default"] = Network()


def _check_references(project: Project, locate: _Locator) -> None:
    for name, service in project.services.items():
        here = ("services", name)
        for network in service.networks or {}:
            if network not in project.networks:
                raise UndefinedReferenceError(f"service {name!r} refers to undefined network {network!r}",
                                              locate((*here, "networks", network)))
        for index, volume in enumerate(service.volumes or []):
            if volume.type == "volume" and volume.source and volume.source not in project.volumes:
                raise UndefinedReferenceError(f"service {name!r} refers to undefined volume {volume.source!r}",
                                              locate((*here, "volumes", index)))
        for section in ("secrets", "configs"):
            declared = getattr(project, section)
            for index, ref in enumerate(getattr(service, section) or []):
                if ref.source not in declared:
                    raise UndefinedReferenceError(
                        f"service {name!r} refers to undefined {section[:-1]} {ref.source!r}",
                        locate((*here, section, index)))
        mode = service.network_mode or ""
        if mode.startswith("service:") and mode[len("service:"):] not in project.services:
            raise UndefinedReferenceError(f"service {name!r}: network_mode refers to undefined service "
                                          f"{mode[len('service:'):]!r}", locate((*here, "network_mode")))
        if service.network_mode and service.networks:
            raise SchemaError(f"service {name!r}: network_mode and networks cannot be combined",
                              locate((*here, "network_mode")))
    _check_service_shape(project, locate)


def _check_service_shape(project: Project, locate: _Locator) -> None:
    for name, service in project.services.items():
        if service.container_name and service.replicas > 1:
            raise SchemaError(f"service {name!r}: container_name {service.container_name!r} cannot be used with "
                              f"{service.replicas} replicas (names must be unique)",
                              locate(("services", name, "container_name")))
        if service.network_mode == "host" and service.ports:
            raise SchemaError(f"service {name!r}: ports cannot be published with network_mode: host",
                              locate(("services", name, "ports")))


def _check_dependency_cycles(project: Project, locate: _Locator) -> None:
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*chain[chain.index(name):], name]
            raise CycleError(f"dependency cycle: {' -> '.join(cycle)}", locate(("services", name, "depends_on")))
        state[name] = 1
        for dep in project.services[name].depends_on or {}:
            if dep in project.services:
                visit(dep, [*chain, name])
        state[name] = 2

    for service_name in project.services:
        visit(service_name, [])
