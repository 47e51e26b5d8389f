"""Checks on the loaded project (enabled services only), each refused with where it was written.

Compose v2 refuses the same projects (its `checkConsistency`): a service with neither image nor
build, `dockerfile` with `dockerfile_inline`, an `additional_contexts` `service:` that is not a
buildable service, `build.platforms` without the service's `platform`, `network_mode` with
`networks`, references to undefined networks, volumes, secrets, configs, models or services,
`scale` different from `deploy.replicas`, a per-service limit different from its `deploy`
twin (cpus, memory, pids, memory reservation), `container_name` with several replicas, a
`develop.watch` rule without `target` for a sync action, two mounts on one target, a secret with
neither `file` nor `environment` (nor `content`, which pyorch accepts), dependency cycles.
pyorch also refuses `network_mode: host` with `ports` (Docker would drop the ports silently), except
for `config`, which renders any file Compose renders.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.spec.errors import CycleError, Location, SchemaError, UndefinedReferenceError
from orchestrator.spec.model import Project, Service
from orchestrator.spec.yamlsource import Path_

Locate = Callable[[Path_], Location]


def check_consistency(project: Project, locate: Locate, check_support: bool = True) -> None:
    for name, service in project.services.items():
        here: Path_ = ("services", name)
        _check_image_and_build(project, name, service, locate)
        if service.network_mode and service.networks:
            raise SchemaError(f"service {name!r} declares mutually exclusive `network_mode` and `networks`",
                              locate((*here, "network_mode")))
        if check_support and service.network_mode == "host" and service.ports:
            raise SchemaError(f"service {name!r}: ports cannot be published with network_mode: host",
                              locate((*here, "ports")))
        _check_references(project, name, service, locate)
        test = service.healthcheck.test if service.healthcheck else None
        if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
            raise SchemaError(f"service {name!r}: healthcheck.test must start with CMD, CMD-SHELL or NONE, "
                              f"not {test[0]!r}", locate((*here, "healthcheck", "test")))
        _check_twins(name, service, locate)
        _check_mounts(name, service, locate)
        for index, rule in enumerate(service.develop.watch or [] if service.develop else []):
            if not rule.target and rule.action not in ("rebuild", "restart"):
                raise SchemaError(f"service {name!r}: develop.watch needs a target for the {rule.action!r} action",
                                  locate((*here, "develop", "watch", index)))
    _check_resources(project, locate)
    _check_dependency_cycles(project, locate)


def _check_resources(project: Project, locate: Locate) -> None:
    """Compose's checks of the top-level resources, used or not."""
    for key, volume in project.volumes.items():
        if volume.external:
            extra = sorted(f for f in volume.model_fields_set if f not in ("name", "external"))
            if extra:
                raise SchemaError(f'volumes.{key}: conflicting parameters "external" and "{extra[0]}" specified',
                                  locate(("volumes", key, extra[0])))
    for section, sources in (("secrets", ("file", "environment")), ("configs", ("file", "environment", "content"))):
        for key, obj in getattr(project, section).items():
            given = [s for s in sources if getattr(obj, s) is not None]
            if len(given) > 1:
                raise SchemaError(f"{section}.{key}: {'|'.join(sources)} attributes are mutually exclusive",
                                  locate((section, key, given[1])))
            # `content` of a secret is pyorch's addition (newer specifications have it).
            has_content = section == "secrets" and getattr(obj, "content", None) is not None
            if not given and not obj.external and not getattr(obj, "driver", None) and not has_content:
                raise SchemaError(f"{section}.{key}: one of {'|'.join(sources)} must be set", locate((section, key)))
    for name, service in project.services.items():
        reserved = service.deploy.resources.reservations.devices or [] \
            if service.deploy and service.deploy.resources and service.deploy.resources.reservations else []
        requests = [*(service.gpus if isinstance(service.gpus, list) else []), *reserved]
        for request in reserved:
            if request.capabilities is None:
                raise SchemaError(f"services.{name}.deploy.resources.reservations.devices: missing property "
                                  "'capabilities'", locate(("services", name, "deploy")))
        for request in requests:
            if request.count is not None and request.device_ids is not None:
                raise SchemaError(f'services.{name}: "count" and "device_ids" attributes are exclusive',
                                  locate(("services", name)))


def _check_image_and_build(project: Project, name: str, service: Service, locate: Locate) -> None:
    here: Path_ = ("services", name)
    if not service.image and not service.build and not service.provider:
        raise SchemaError(f"service {name!r} has neither an image nor a build context specified", locate(here))
    build = service.build
    if build is None:
        return
    if build.dockerfile and build.dockerfile_inline:
        raise SchemaError(f"service {name!r} declares mutually exclusive dockerfile and dockerfile_inline",
                          locate((*here, "build", "dockerfile_inline")))
    for context, value in (build.additional_contexts or {}).items():
        if value.startswith("service:"):
            target = project.services.get(value[len("service:"):])
            if target is None or target.build is None:
                kind = "unknown" if target is None else "non-buildable"
                raise SchemaError(f"service {name!r} declares {kind} service {value[len('service:'):]!r} as "
                                  f"additional context {context}", locate((*here, "build", "additional_contexts")))
    if build.platforms and service.platform and service.platform not in build.platforms:
        raise SchemaError(f"service {name!r}: build.platforms must include the service's platform "
                          f"{service.platform!r}", locate((*here, "build", "platforms")))


def _check_references(project: Project, name: str, service: Service, locate: Locate) -> None:
    here: Path_ = ("services", name)
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
                raise UndefinedReferenceError(f"service {name!r} refers to undefined {section[:-1]} {ref.source!r}",
                                              locate((*here, section, index)))
    for index, ref in enumerate(service.build.secrets or [] if service.build else []):
        if ref.source not in project.secrets:
            raise UndefinedReferenceError(f"service {name!r} refers to undefined build secret {ref.source!r}",
                                          locate((*here, "build", "secrets", index)))
    for model in service.models or {}:
        if model not in project.models:
            raise UndefinedReferenceError(f"service {name!r} refers to undefined model {model!r}",
                                          locate((*here, "models", model)))
    mode = service.network_mode or ""
    if mode.startswith("service:") and mode[len("service:"):] not in project.services:
        raise UndefinedReferenceError(f"service {name!r}: network_mode refers to undefined service "
                                      f"{mode[len('service:'):]!r}", locate((*here, "network_mode")))


def _check_twins(name: str, service: Service, locate: Locate) -> None:
    """A per-service key and its `deploy` twin must agree when both are set."""
    here: Path_ = ("services", name)
    deploy = service.deploy
    if deploy is None:
        return
    if service.scale is not None and deploy.replicas is not None and service.scale != deploy.replicas:
        raise SchemaError(f"services.{name}: can't set distinct values on 'scale' and 'deploy.replicas'",
                          locate((*here, "scale")))
    limits = deploy.resources.limits if deploy.resources else None
    reservations = deploy.resources.reservations if deploy.resources else None
    twins = [
        ("cpus", service.cpus, limits.cpus if limits else None, "deploy.resources.limits.cpus"),
        ("mem_limit", service.mem_limit, limits.memory if limits else None, "deploy.resources.limits.memory"),
        ("mem_reservation", service.mem_reservation, reservations.memory if reservations else None,
         "deploy.resources.reservations.memory"),
        ("pids_limit", service.pids_limit, limits.pids if limits else None, "deploy.resources.limits.pids"),
    ]
    for key, own, twin, twin_name in twins:
        if own and (limits if key != "mem_reservation" else reservations) is not None and _differ(key, own, twin):
            raise SchemaError(f"services.{name}: can't set distinct values on '{key}' and '{twin_name}'",
                              locate((*here, key)))


def _differ(key: str, own: float, twin: float | None) -> bool:
    if key == "cpus":  # compared as Go float32s
        import struct

        def f32(value: float) -> float:
            packed: float = struct.unpack("f", struct.pack("f", value))[0]
            return packed

        return f32(own) != f32(twin or 0.0)
    return own != (twin or 0)


def _check_mounts(name: str, service: Service, locate: Locate) -> None:
    here: Path_ = ("services", name)
    if service.container_name and service.replicas > 1:
        attribute = "scale" if service.scale is not None else "deploy.replicas"
        raise SchemaError(f"services.{name}: can't set container_name and {attribute} as container name must be "
                          "unique", locate((*here, "container_name")))
    mounts: dict[str, str] = {}
    for index, tmpfs in enumerate(service.tmpfs or []):
        target = tmpfs.split(":", 1)[0]
        if target in mounts:
            raise SchemaError(f"services.{name}.tmpfs[{index}]: target {target} already mounted as {mounts[target]}",
                              locate((*here, "tmpfs", index)))
        mounts[target] = f"services.{name}.tmpfs[{index}]"
    for index, volume in enumerate(service.volumes or []):
        if volume.target in mounts:
            raise SchemaError(f"services.{name}.volumes[{index}]: target {volume.target} already mounted as "
                              f"{mounts[volume.target]}", locate((*here, "volumes", index)))
        mounts[volume.target] = f"services.{name}.volumes[{index}]"


def _check_dependency_cycles(project: Project, locate: Locate) -> None:
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*chain[chain.index(name):], name]
            raise CycleError(f"dependency cycle detected: {' -> '.join(cycle)}",
                             locate(("services", name, "depends_on")))
        state[name] = 1
        for dep in project.services[name].depends_on or {}:
            if dep in project.services:
                visit(dep, [*chain, name])
        state[name] = 2

    for service_name in project.services:
        visit(service_name, [])
