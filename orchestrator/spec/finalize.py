"""Last phases on the merged project: env_file → environment, defaults, references, profiles, warnings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.spec.consistency import check_consistency
from orchestrator.spec.errors import Location, UndefinedReferenceError
from orchestrator.spec.logging_checks import check_logging
from orchestrator.spec.model import Network, Project
from orchestrator.spec.network_checks import check_network_addresses
from orchestrator.spec.normalize import Normalized, apply_defaults, normalize_services
from orchestrator.spec.support import unapplied_warnings
from orchestrator.spec.validate import schema_error
from orchestrator.spec.volume_checks import check_volume_drivers
from orchestrator.spec.yamlsource import Path_, SourceMap


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
                     warnings: list[str], select: bool = False, check_support: bool = True,
                     raw_name: str | None = None) -> Project:
    locate = _Locator(sources)
    done = Normalized(raw_name=raw_name)
    added = done.added
    apply_defaults(merged, project_dir)
    normalize_services(merged, environment, locate, done)
    services_data = merged.get("services") or {}
    for service_name, body in services_data.items():
        body["name"] = service_name
    data = {k: v for k, v in merged.items() if k not in ("name", "version", "include")}
    data.update(name=name, working_dir=str(project_dir))
    try:
        project = Project.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"]
        source = locate.source_for(tuple(first))
        raise schema_error(exc, data, source, ()) from None

    declared = [p for service in project.services.values() for p in service.profiles or []]
    _apply_profiles(project, profiles, named, locate, warnings)
    _apply_defaults(project, added)
    _name_resources(project, added)
    check_consistency(project, locate, check_support)
    check_network_addresses(project, locate)
    check_logging(project, locate, warnings)
    if check_support:
        check_volume_drivers(project, locate)
    if select:
        _select(project, named)
    project.referenced_environment = _referenced_environment(project, environment)
    for warning in unapplied_warnings(project.services):
        if warning not in warnings:
            warnings.append(warning)
    project.warnings = list(dict.fromkeys(warnings))
    project.remember_loading(declared, dict(environment), done)
    return project


def _referenced_environment(project: Project, environment: Mapping[str, str]) -> dict[str, str]:
    """What `secrets.*.environment` and `configs.*.environment` name; a missing variable is
    reported when a container needs it (as Compose does), so `config` still renders the file."""
    names = {obj.environment for obj in project.secrets.values() if obj.environment}
    names |= {obj.environment for obj in project.configs.values() if obj.environment}
    return {name: environment[name] for name in sorted(names) if name in environment}


def _apply_profiles(project: Project, profiles: Sequence[str], named: Sequence[str], locate: _Locator,
                    warnings: list[str]) -> None:
    """Compose's rules: a service runs when it has no profiles or one of them is enabled (`*`
    enables all); naming a service on the command line enables its profiles. A dependency on a
    disabled service is an error unless it is `required: false` (then it is dropped for the engine
    and kept for `config`, which prints it as Compose does)."""
    for name in named:
        if name not in project.services:
            raise UndefinedReferenceError(f"no such service: {name}")
    enabled = set(profiles)
    for name in named:
        enabled.update(project.services[name].profiles or [])
    active = {name for name, svc in project.services.items()
              if not svc.profiles or "*" in enabled or enabled & set(svc.profiles)}
    for name, service in project.services.items():
        if name not in active:
            continue
        for dep, spec in list((service.depends_on or {}).items()):
            if dep in active:
                continue
            if not spec.required and dep in project.services:
                assert service.depends_on is not None
                del service.depends_on[dep]
                service.keep_disabled_optional(dep, spec)
                warnings.append(f"service {name}: optional dependency {dep!r} is disabled by profiles; ignored")
                continue
            reason = "is not enabled by the active profiles" if dep in project.services else "is not defined"
            raise UndefinedReferenceError(f"service {name!r} depends on service {dep!r}, which {reason}",
                                          locate(("services", name, "depends_on", dep)))
    project.disabled_services = sorted(set(project.services) - active)
    project.services = {k: v for k, v in project.services.items() if k in active}


def _apply_defaults(project: Project, added: set[tuple[str, ...]]) -> None:
    """Services without `network_mode` (or a `provider`) join `default`, declared when used."""
    needs_default = False
    for name, service in project.services.items():
        if service.network_mode or service.provider:
            continue
        if not service.networks:
            service.networks = {"default": None}
            added.add(("services", name, "networks", "default"))
        if "default" in service.networks:
            needs_default = True
    if needs_default and "default" not in project.networks:
        project.networks["default"] = Network()
        added.add(("networks", "default"))


def _name_resources(project: Project, added: set[tuple[str, ...]]) -> None:
    """Named as Compose names them: `<project>_<key>`, or `<key>` when external."""
    for section in ("networks", "volumes", "secrets", "configs"):
        for key, resource in getattr(project, section).items():
            if not resource.name:
                resource.name = key if resource.external else f"{project.name}_{key}"
                added.add((section, key, "name"))


def _select(project: Project, named: Sequence[str]) -> None:
    """`config SERVICE…`: only those services and what they need; a required one missing is an error."""
    wanted: set[str] = set()
    pending = list(named)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        if name not in project.services:
            raise UndefinedReferenceError(f"no such service: {name}")
        wanted.add(name)
        for dep, spec in (project.services[name].depends_on or {}).items():
            if dep in project.services or spec.required:
                pending.append(dep)
    project.disabled_services = sorted({*project.disabled_services, *(set(project.services) - wanted)})
    project.services = {k: v for k, v in project.services.items() if k in wanted}
