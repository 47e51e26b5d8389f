"""Compose volumes → runtime volume mounts, and the checks `up` makes before it changes anything.

Names and labels as Compose: a named volume is `<project>_<key>` (or its `name:`), labelled
`com.docker.compose.project` and `com.docker.compose.volume`; an anonymous one (a service's
`- /path` or an image's VOLUME) is `<project>_<service>_<number>_anon_<hash of the path>`, so a
recreated replica finds it again as Compose carries anonymous volumes over (`down -v` removes them).
"""

from __future__ import annotations

from orchestrator.errors import EngineError
from orchestrator.spec import Project
from orchestrator.spec.model import ServiceVolume
from runtime.container.runconfig import AnonymousVolumes, Mount, RunConfig
from runtime.errors import RuntimeFailure
from runtime.volume import VolumeStore, plan_local

PROJECT_LABEL = "com.docker.compose.project"
VOLUME_LABEL = "com.docker.compose.volume"
ANONYMOUS_LABEL = "com.docker.volume.anonymous"


def volume_runtime_name(project: Project, key: str) -> str:
    volume = project.volumes.get(key)
    return volume.name if volume is not None and volume.name else f"{project.name}_{key}"


def anonymous_volumes_prefix(project: str, service: str, number: int) -> str:
    return f"{project}_{service}_{number}_anon_"


def anonymous_volumes(project: Project, service: str, number: int) -> AnonymousVolumes:
    """One replica's anonymous volumes: the service's `- /path` entries and its image's VOLUMEs."""
    return AnonymousVolumes(prefix=anonymous_volumes_prefix(project.name, service, number),
                            labels={PROJECT_LABEL: project.name, ANONYMOUS_LABEL: ""})


def oneoff_volume_prefix(project: str, service: str, slug: str) -> str:
    return f"{project}_{service}_run_{slug[:12]}_anon_"


def use_oneoff_volumes(config: RunConfig, project: str, service: str, slug: str) -> None:
    """A one-off `run` container gets anonymous volumes of its own, as Compose's `run` does, not
    those of replica 1 (which may be running); `run --rm` removes them with the container."""
    replica = anonymous_volumes_prefix(project, service, 1)
    own = oneoff_volume_prefix(project, service, slug)
    for mount in config.mounts:
        if mount.type == "volume" and mount.source.startswith(replica):
            mount.source = own + mount.source[len(replica):]
    if config.image_volumes is not None:
        config.image_volumes = AnonymousVolumes(own, dict(config.image_volumes.labels))


def volume_mount(project: Project, service: str, number: int, entry: ServiceVolume) -> Mount:
    """A `type: volume` entry of a service's `volumes:` as a runtime mount."""
    copy = not (entry.volume is not None and entry.volume.nocopy)
    read_only = bool(entry.read_only)
    if not entry.source:
        anonymous = anonymous_volumes(project, service, number)
        return Mount("volume", entry.target, anonymous.name_for(entry.target), read_only,
                     volume_labels=anonymous.labels, copy_image_content=copy)
    volume = project.volumes[entry.source]
    name = volume_runtime_name(project, entry.source)
    if volume.external:  # used as it exists; `up` checked that it does
        return Mount("volume", entry.target, name, read_only, volume_options=None, copy_image_content=copy)
    labels = {**{str(k): str(v) for k, v in (volume.labels or {}).items()},
              PROJECT_LABEL: project.name, VOLUME_LABEL: entry.source}
    return Mount("volume", entry.target, name, read_only, volume_driver=volume.driver or "local",
                 volume_options=dict(volume.driver_opts or {}), volume_labels=labels, copy_image_content=copy)


def check_volumes(project: Project, volumes: VolumeStore) -> None:
    """Refuse, before anything starts: a missing external volume, driver options pyorch cannot
    apply, and a volume that exists with other options than the file now asks for."""
    used = {entry.source for service in project.services.values() for entry in service.volumes or []
            if entry.type == "volume" and entry.source}
    existing = {v.name: v for v in volumes.list()}
    for key in sorted(used):
        volume = project.volumes[key]
        name = volume_runtime_name(project, key)
        if volume.external:
            if name not in existing:
                raise EngineError(f"volume {name} declared as external, but could not be found")
            continue
        options = dict(volume.driver_opts or {})
        try:
            plan_local(name, volume.driver or "local", options)
        except RuntimeFailure as exc:
            raise EngineError(str(exc)) from exc
        found = existing.get(name)
        if found is not None and (found.driver, found.options) != (volume.driver or "local", options):
            raise EngineError(f"volume {name} exists with driver options {found.options or 'none'}, the file asks "
                              f"for {options or 'none'}: remove it (pyorch volume rm {name}) to apply them")
