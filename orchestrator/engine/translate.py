"""Compose service → runtime RunConfig: the one place where Compose keys become runtime settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.engine.file_objects import file_mounts
from orchestrator.engine.labels import (
    LABEL_HASH,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_REVISION,
    LABEL_SERVICE,
    LABEL_WORKDIR,
)
from orchestrator.engine.pins import pinned_image
from orchestrator.engine.volume_mounts import anonymous_volumes, volume_mount
from orchestrator.planner.health import HealthCheck
from orchestrator.spec import Project, Service
from orchestrator.spec.confighash import config_hash
from orchestrator.spec.logging_checks import log_options
from runtime.container.runconfig import DeviceMapping, Mount, Resources, RunConfig
from runtime.container.spec import LogSettings


def container_labels(project: Project, service: Service, number: int, revision: int) -> dict[str, str]:
    return {
        **{k: str(v) for k, v in (service.labels or {}).items()},
        LABEL_PROJECT: project.name,
        LABEL_SERVICE: service.name,
        LABEL_NUMBER: str(number),
        LABEL_HASH: config_hash(project, service.name),
        LABEL_ONEOFF: "False",
        LABEL_WORKDIR: str(project.working_dir),
        LABEL_REVISION: str(revision),
    }


def resources_of(service: Service) -> Resources:
    limits = service.deploy.resources.limits if service.deploy and service.deploy.resources else None
    memory = service.mem_limit or (limits.memory if limits else None)
    cpus = service.cpus or (limits.cpus if limits else None)
    pids = service.pids_limit or (limits.pids if limits else None)
    return Resources(
        memory_limit=int(memory) if memory else None,
        memory_reservation=int(service.mem_reservation) if service.mem_reservation else None,
        memory_swap=int(service.memswap_limit) if service.memswap_limit else None,
        nano_cpus=int(float(cpus) * 1e9) if cpus else None,
        cpu_shares=service.cpu_shares,
        cpuset_cpus=service.cpuset,
        pids_limit=int(pids) if pids and int(pids) > 0 else None,
    )


def run_config(project: Project, service: Service, name: str, number: int, revision: int) -> RunConfig:
    if not service.image:
        raise ValueError(f"service {service.name} has no image")
    env = {k: v for k, v in service.environment.items() if v is not None}
    security = service.security_opt or []
    return RunConfig(
        name=name,
        image=service.image,
        image_id=pinned_image(service),
        entrypoint=service.entrypoint,
        command=service.command,
        environment=env,
        working_dir=service.working_dir,
        user=service.user,
        hostname=service.hostname,
        domainname=service.domainname or "",
        labels=container_labels(project, service, number, revision),
        resources=resources_of(service),
        stop_signal=service.stop_signal,
        stop_grace_period=service.stop_grace_period if service.stop_grace_period is not None else 10.0,
        init=service.init,
        cap_add=list(service.cap_add or []),
        cap_drop=list(service.cap_drop or []),
        privileged=bool(service.privileged),
        read_only=bool(service.read_only),
        no_new_privileges=any(o.replace("=", ":") in ("no-new-privileges", "no-new-privileges:true") for o in security),
        seccomp=seccomp_of(project, security),
        sysctls={str(k): str(v) for k, v in (service.sysctls or {}).items()},
        ulimits={name: (u.soft, u.hard) for name, u in (service.ulimits or {}).items()},
        group_add=[str(g) for g in service.group_add or []],
        devices=[DeviceMapping(d.source, d.target, d.permissions) for d in service.devices or []],
        device_cgroup_rules=list(service.device_cgroup_rules or []),
        shm_size=int(service.shm_size) if service.shm_size else None,
        extra_hosts=dict(service.extra_hosts or {}),
        dns=list(service.dns or []),
        dns_search=list(service.dns_search or []),
        dns_options=list(service.dns_opt or []),
        oom_score_adj=service.oom_score_adj,
        mounts=mounts_of(project, service, number),
        files=file_mounts(project, service),
        log=log_settings(service),
        image_volumes=anonymous_volumes(project, service.name, number),
        tty=bool(service.tty),
        stdin_open=bool(service.stdin_open),
    )


def log_settings(service: Service) -> LogSettings:
    """`logging:` as the shim keeps the log (pyorch's capped default without it)."""
    options = log_options(service.logging)
    return LogSettings(driver=options.driver, max_size=options.max_size, max_files=options.max_files,
                       compress=options.compress)


def seccomp_of(project: Project, security_opt: list[str]) -> str | None:
    """`security_opt: [seccomp=unconfined | seccomp=FILE]` (Docker's spellings, `:` or `=`)."""
    for option in security_opt:
        key, sep, value = option.replace(":", "=", 1).partition("=")
        if key != "seccomp" or not sep:
            continue
        if value == "unconfined":
            return "unconfined"
        path = Path(value)
        return str(path if path.is_absolute() else Path(project.working_dir) / path)
    return None


def mounts_of(project: Project, service: Service, number: int) -> list[Mount]:
    """`volumes:` (long form after loading) and `tmpfs:` as runtime mounts."""
    mounts: list[Mount] = []
    for index, v in enumerate(service.volumes or []):
        if v.type == "bind":
            mounts.append(Mount("bind", v.target, v.source or "", bool(v.read_only),
                                create_host_path=bool(v.bind and v.bind.create_host_path)))
        elif v.type == "volume":
            mounts.append(volume_mount(project, service.name, number, v))
        elif v.type == "tmpfs":
            mounts.append(Mount("tmpfs", v.target, read_only=bool(v.read_only),
                                tmpfs_size=v.tmpfs.size if v.tmpfs else None,
                                tmpfs_mode=v.tmpfs.mode if v.tmpfs else None))
        else:
            raise ValueError(f"service {service.name}: volume #{index + 1} of type {v.type!r} is not supported")
    for entry in service.tmpfs or []:
        target, _, options = entry.partition(":")
        size = next((_bytes(o.split("=", 1)[1]) for o in options.split(",") if o.startswith("size=")), None)
        mounts.append(Mount("tmpfs", target, tmpfs_size=size))
    return mounts


def _bytes(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower().rstrip("b")
    return int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)


def health_check_for(service: Service, image_healthcheck: dict[str, Any] | None) -> HealthCheck | None:
    """The service's healthcheck; fields it leaves out come from the image's HEALTHCHECK (in ns there)."""
    hc = service.healthcheck
    if hc is not None and hc.disable:
        return None
    image = image_healthcheck or {}

    def pick(ours: float | None, key: str) -> float | None:
        if ours is not None:
            return ours
        value = image.get(key)
        return float(value) / 1e9 if value else None

    test = hc.test if hc is not None and hc.test is not None else image.get("Test")
    return HealthCheck.from_test(
        test,
        pick(hc.interval if hc else None, "Interval"),
        pick(hc.timeout if hc else None, "Timeout"),
        pick(hc.start_period if hc else None, "StartPeriod"),
        pick(hc.start_interval if hc else None, "StartInterval"),
        hc.retries if hc is not None and hc.retries is not None else image.get("Retries"),
    )
