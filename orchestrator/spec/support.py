"""What pyorch applies today. The ONE list the loader's warnings and docs/compose-compatibility.md use."""

from __future__ import annotations

from orchestrator.spec.model import Deploy, Service

# Service keys (dotted for sub-keys of `deploy`) that the engine turns into container settings.
APPLIED_KEYS: frozenset[str] = frozenset({
    "image", "command", "entrypoint", "environment", "env_file", "ports", "deploy.replicas", "scale",
    "restart", "working_dir", "user", "hostname", "networks", "labels", "mem_limit", "cpus",
    "pids_limit", "deploy.resources.limits", "container_name", "stop_signal", "stop_grace_period",
    "profiles", "depends_on", "init", "deploy.restart_policy",
    "healthcheck", "volumes", "tmpfs", "cap_add", "cap_drop", "privileged", "read_only", "extra_hosts", "dns",
    "dns_search", "domainname", "mem_reservation", "memswap_limit", "cpu_shares", "cpuset", "shm_size",
    "oom_score_adj", "pull_policy", "platform", "security_opt", "sysctls", "ulimits", "group_add", "build",
    "devices", "device_cgroup_rules",
    "deploy.update_config", "deploy.rollback_config",
    "network_mode", "dns_opt", "secrets", "configs", "logging", "tty", "stdin_open",
})

# Keys the loader consumes itself: they shape the project, not a container.
LOADER_KEYS: frozenset[str] = frozenset({"extends", "label_file"})

# Accepted and warned about today, with work scheduled (docs status "planned").
PLANNED_KEYS: frozenset[str] = frozenset({
    "expose", "deploy.resources.reservations",
})


def service_spec_keys() -> list[str]:
    """Every key a service may have in a Compose file, `deploy.*` spelled out as sub-keys."""
    keys = [k for k in Service.model_fields if k not in Service.internal_fields and k != "deploy"]
    keys += [f"deploy.{k}" for k in Deploy.model_fields if k != "resources"]
    keys += ["deploy.resources.limits", "deploy.resources.reservations"]
    return sorted(keys)


def status_of(key: str) -> str:
    """'applied', 'planned' or 'warned' (accepted, no plan yet)."""
    if key in APPLIED_KEYS or key in LOADER_KEYS:
        return "applied"
    if key in PLANNED_KEYS:
        return "planned"
    return "warned"


def used_keys(service: Service) -> list[str]:
    """The spec keys written for this service (deploy sub-keys spelled out)."""
    keys: list[str] = []
    for name in service.model_fields_set:
        if name in Service.internal_fields or name.startswith("x-") or getattr(service, name) is None:
            continue
        if name == "deploy" and service.deploy is not None:
            for sub in service.deploy.model_fields_set:
                if sub == "resources" and service.deploy.resources is not None:
                    keys += [f"deploy.resources.{r}" for r in service.deploy.resources.model_fields_set]
                else:
                    keys.append(f"deploy.{sub}")
        elif name == "environment" and not service.environment:
            continue
        else:
            keys.append(name)
    return keys


def unapplied_warnings(services: dict[str, Service]) -> list[str]:
    """One warning per key name that some service uses and pyorch does not apply yet."""
    seen: dict[str, str] = {}
    for name, service in services.items():
        for key in sorted(used_keys(service)):
            if status_of(key) != "applied" and key not in seen:
                seen[key] = name
    return [f"service {svc}: key '{key}' {UNAPPLIED}" for key, svc in seen.items()]


UNAPPLIED = "is accepted but not applied yet"


def about_the_model(warnings: list[str]) -> list[str]:
    """The warnings about the files themselves (what `config` shows), not about what `up` applies."""
    return [w for w in warnings if not w.endswith(UNAPPLIED)]

