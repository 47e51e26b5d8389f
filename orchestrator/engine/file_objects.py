"""Compose `secrets:` and `configs:` → the runtime's file mounts, with Compose's targets and defaults.

Targets as docker/compose's `pkg/compose/create.go` and `secrets.go`: a secret at
`/run/secrets/<source>` (a relative target goes under /run/secrets), a config at `/<source>` (a
relative target under /). The file comes from the top-level `file`, `environment` (the variable's
value) or `content`. Mode 0444 and owner 0:0 unless the service's long syntax says otherwise;
unlike Compose, `uid`/`gid`/`mode` are honoured for `file` sources too (docker/compose#9648).
External objects, drivers and template drivers are refused, as Compose refuses them.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import EngineError
from orchestrator.spec import Project, Service
from orchestrator.spec.model import Config, Secret, ServiceConfigRef
from runtime.container.runconfig import FileMount

SECRETS_DIR = "/run/secrets/"
DEFAULT_MODE = 0o444


def file_mounts(project: Project, service: Service) -> list[FileMount]:
    """The service's secrets and configs as mounts; EngineError for what cannot be mounted."""
    mounts = []
    for ref in service.secrets or []:
        target = ref.target or ref.source
        target = target if target.startswith("/") else SECRETS_DIR + target
        mounts.append(_mount(project, "secret", project.secrets[ref.source], ref, target))
    for ref in service.configs or []:
        target = ref.target or ref.source
        target = target if target.startswith("/") else "/" + target
        mounts.append(_mount(project, "config", project.configs[ref.source], ref, target))
    return mounts


def check_file_objects(project: Project) -> None:
    """Before `up` changes anything: every secret and config its services use can be mounted."""
    for service in project.services.values():
        for mount in file_mounts(project, service):
            if mount.content is None and not Path(mount.source).is_file():
                raise EngineError(f"service {service.name!r}: the file of {mount.target}, {mount.source}, "
                                  "does not exist")


def _mount(project: Project, kind: str, obj: Secret | Config, ref: ServiceConfigRef, target: str) -> FileMount:
    # Messages name the object as the file does (its key); an external one by its real name, as
    # Compose does (the loader names every object, `<project>_<key>` when not external).
    name = ref.source
    if obj.external:
        raise EngineError(f"unsupported external {kind} {obj.name or name}")
    if isinstance(obj, Secret) and obj.driver:
        raise EngineError(f"{kind} {name}: driver {obj.driver!r} is not supported")
    if obj.template_driver:
        raise EngineError(f"{kind} {name}: template_driver {obj.template_driver!r} is not supported")
    mount = FileMount(target, uid=_number(ref.uid, kind, name, "uid"), gid=_number(ref.gid, kind, name, "gid"),
                      mode=ref.mode if ref.mode is not None else DEFAULT_MODE)
    if obj.content is not None:
        mount.content = obj.content
    elif obj.environment:
        value = project.referenced_environment.get(obj.environment)
        if value is None:
            raise EngineError(f'environment variable "{obj.environment}" required by {kind} "{name}" is not set')
        mount.content = value
    elif obj.file:
        mount.source = obj.file
    else:
        raise EngineError(f"{kind} {name} has no file, environment or content")
    return mount


def _number(value: object, kind: str, name: str, what: str) -> int:
    if value is None or value == "":
        return 0
    text = str(value)
    if not text.isdigit():
        raise EngineError(f"{kind} {name}: {what} must be a number, not {text!r}")
    return int(text)
