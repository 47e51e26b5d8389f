"""Scalar types Compose's schema is strict about, checked on each file after interpolation.

- `null` (or nothing: `key:`) is refused almost everywhere: `environment:` or `networks:` left
  empty is an error in Compose ("must be a mapping"), not an absent key. The places it accepts
  one are listed in `_NULLABLE` (`*` is any key, `[]` any item).
- Where Compose wants a string and nothing else (`user`, `hostname`, `image`, the items of
  `environment` or `labels` lists, ...: `_STRINGS`), a number or a boolean is refused: `user: 1000`
  must be written `user: "1000"`.
- An unquoted date or time (`2024-01-31`) is read by Compose's YAML library as a timestamp,
  which no key accepts: it must be quoted.

`x-*` keys may hold anything.
"""

from __future__ import annotations

from typing import Any

from orchestrator.spec.errors import SchemaError
from orchestrator.spec.yamlsource import Path_, SourceMap, Timestamp

_NULLABLE = [tuple(p.split(".")) for p in (
    "include", "networks.*", "volumes.*",
    "networks.*.labels.*", "volumes.*.labels.*", "secrets.*.labels.*", "configs.*.labels.*",
    "services.*.command", "services.*.entrypoint", "services.*.deploy", "services.*.develop", "services.*.pid",
    "services.*.annotations.*", "services.*.environment.*", "services.*.labels.*", "services.*.sysctls.*",
    "services.*.logging.options.*", "services.*.networks.*", "services.*.models.*",
    "services.*.build.args.*", "services.*.build.labels.*", "services.*.build.additional_contexts.*",
    "services.*.build.ssh.*", "services.*.deploy.labels.*",
    "services.*.deploy.resources.reservations.devices.[].options.*", "services.*.gpus.[].options.*",
    "services.*.develop.watch.[].exec.command", "services.*.develop.watch.[].exec.environment.*",
    "services.*.post_start.[].command", "services.*.post_start.[].environment.*",
    "services.*.pre_stop.[].command", "services.*.pre_stop.[].environment.*",
    "services.*.volumes.[].volume.labels.*",
)]


_STRINGS = [tuple(p.split(".")) for p in (
    "name", "version", "include.[]", "include.[].path", "include.[].path.[]", "include.[].env_file",
    "include.[].env_file.[]", "include.[].project_directory",
    "networks.*.name", "networks.*.driver", "networks.*.labels.[]", "networks.*.ipam.driver",
    "networks.*.ipam.options.*", "networks.*.ipam.config.[].subnet", "networks.*.ipam.config.[].gateway",
    "networks.*.ipam.config.[].ip_range", "networks.*.ipam.config.[].aux_addresses.*",
    "volumes.*.name", "volumes.*.driver", "volumes.*.labels.[]",
    "secrets.*.name", "secrets.*.file", "secrets.*.environment", "secrets.*.driver", "secrets.*.template_driver",
    "secrets.*.labels.[]", "configs.*.name", "configs.*.file", "configs.*.environment", "configs.*.content",
    "configs.*.template_driver", "configs.*.labels.[]", "models.*.model", "models.*.name", "models.*.runtime_flags.[]",
    "services.*.annotations.[]", "services.*.build", "services.*.build.context", "services.*.build.dockerfile",
    "services.*.build.dockerfile_inline", "services.*.build.entitlements.[]", "services.*.build.args.[]",
    "services.*.build.labels.[]", "services.*.build.cache_from.[]", "services.*.build.cache_to.[]",
    "services.*.build.additional_contexts.[]", "services.*.build.isolation", "services.*.build.network",
    "services.*.build.target", "services.*.build.tags.[]", "services.*.build.platforms.[]",
    "services.*.build.ssh.[]", "services.*.build.extra_hosts.[]", "services.*.build.extra_hosts.*",
    "services.*.build.secrets.[]", "services.*.build.secrets.[].source", "services.*.build.secrets.[].target",
    "services.*.build.secrets.[].uid", "services.*.build.secrets.[].gid",
    "services.*.cap_add.[]", "services.*.cap_drop.[]", "services.*.cgroup", "services.*.cgroup_parent",
    "services.*.command", "services.*.command.[]", "services.*.entrypoint", "services.*.entrypoint.[]",
    "services.*.configs.[]", "services.*.configs.[].source", "services.*.configs.[].target",
    "services.*.configs.[].uid", "services.*.configs.[].gid", "services.*.secrets.[]",
    "services.*.secrets.[].source", "services.*.secrets.[].target", "services.*.secrets.[].uid",
    "services.*.secrets.[].gid", "services.*.container_name", "services.*.cpuset",
    "services.*.credential_spec.config", "services.*.credential_spec.file", "services.*.credential_spec.registry",
    "services.*.depends_on.[]", "services.*.depends_on.*.condition", "services.*.deploy.mode",
    "services.*.deploy.endpoint_mode", "services.*.deploy.labels.[]", "services.*.deploy.placement.constraints.[]",
    "services.*.deploy.placement.preferences.[].spread", "services.*.deploy.resources.limits.memory",
    "services.*.deploy.resources.reservations.memory", "services.*.deploy.restart_policy.condition",
    "services.*.deploy.restart_policy.delay", "services.*.deploy.restart_policy.window",
    "services.*.deploy.update_config.delay", "services.*.deploy.update_config.failure_action",
    "services.*.deploy.update_config.monitor", "services.*.deploy.update_config.order",
    "services.*.deploy.rollback_config.delay", "services.*.deploy.rollback_config.failure_action",
    "services.*.deploy.rollback_config.monitor", "services.*.deploy.rollback_config.order",
    "services.*.deploy.resources.reservations.devices.[].capabilities.[]",
    "services.*.deploy.resources.reservations.devices.[].device_ids.[]",
    "services.*.deploy.resources.reservations.devices.[].driver",
    "services.*.deploy.resources.reservations.generic_resources.[].discrete_resource_spec.kind",
    "services.*.develop.watch.[].action", "services.*.develop.watch.[].path", "services.*.develop.watch.[].target",
    "services.*.develop.watch.[].ignore", "services.*.develop.watch.[].ignore.[]",
    "services.*.develop.watch.[].include", "services.*.develop.watch.[].include.[]",
    "services.*.device_cgroup_rules.[]", "services.*.devices.[]", "services.*.devices.[].source",
    "services.*.devices.[].target", "services.*.devices.[].permissions", "services.*.dns", "services.*.dns.[]",
    "services.*.dns_opt.[]", "services.*.dns_search", "services.*.dns_search.[]", "services.*.domainname",
    "services.*.env_file", "services.*.env_file.[]", "services.*.env_file.[].path", "services.*.env_file.[].format",
    "services.*.environment.[]", "services.*.extends", "services.*.extends.file", "services.*.extends.service",
    "services.*.external_links.[]", "services.*.extra_hosts.[]", "services.*.extra_hosts.*",
    "services.*.extra_hosts.*.[]", "services.*.gpus", "services.*.gpus.[].capabilities.[]",
    "services.*.gpus.[].device_ids.[]", "services.*.gpus.[].driver", "services.*.healthcheck.test",
    "services.*.healthcheck.test.[]", "services.*.healthcheck.interval", "services.*.healthcheck.timeout",
    "services.*.healthcheck.start_period", "services.*.healthcheck.start_interval", "services.*.hostname",
    "services.*.image", "services.*.ipc", "services.*.isolation", "services.*.label_file", "services.*.label_file.[]",
    "services.*.labels.[]", "services.*.links.[]", "services.*.logging.driver", "services.*.mac_address",
    "services.*.models.[]", "services.*.models.*.endpoint_var", "services.*.models.*.model_var",
    "services.*.network_mode", "services.*.networks.[]", "services.*.networks.*.aliases.[]",
    "services.*.networks.*.interface_name", "services.*.networks.*.ipv4_address",
    "services.*.networks.*.ipv6_address", "services.*.networks.*.link_local_ips.[]",
    "services.*.networks.*.mac_address", "services.*.pid", "services.*.platform", "services.*.ports.[].app_protocol",
    "services.*.ports.[].host_ip", "services.*.ports.[].mode", "services.*.ports.[].name",
    "services.*.ports.[].protocol", "services.*.profiles.[]", "services.*.provider.type", "services.*.pull_policy",
    "services.*.pull_refresh_after", "services.*.restart", "services.*.runtime", "services.*.security_opt.[]",
    "services.*.stop_grace_period", "services.*.stop_signal", "services.*.sysctls.[]", "services.*.tmpfs",
    "services.*.tmpfs.[]", "services.*.user", "services.*.userns_mode", "services.*.uts", "services.*.volumes.[]",
    "services.*.volumes.[].type", "services.*.volumes.[].source", "services.*.volumes.[].target",
    "services.*.volumes.[].consistency", "services.*.volumes.[].bind.propagation",
    "services.*.volumes.[].bind.recursive", "services.*.volumes.[].bind.selinux",
    "services.*.volumes.[].volume.subpath", "services.*.volumes.[].volume.labels.[]",
    "services.*.volumes.[].image.subpath", "services.*.volumes_from.[]", "services.*.working_dir",
    "services.*.post_start.[].command", "services.*.post_start.[].command.[]", "services.*.post_start.[].user",
    "services.*.post_start.[].working_dir", "services.*.post_start.[].environment.[]",
    "services.*.pre_stop.[].command", "services.*.pre_stop.[].command.[]", "services.*.pre_stop.[].user",
    "services.*.pre_stop.[].working_dir", "services.*.pre_stop.[].environment.[]",
    "services.*.blkio_config.weight_device.[].path", "services.*.blkio_config.device_read_bps.[].path",
    "services.*.blkio_config.device_read_iops.[].path", "services.*.blkio_config.device_write_bps.[].path",
    "services.*.blkio_config.device_write_iops.[].path",
)]


# Lists whose items must differ (Compose's schema says so, and Compose does not make them unique
# itself first, as it does for `dns` or `environment`).
_UNIQUE_ITEMS = [tuple(p.split(".")) for p in (
    "include.[].path", "include.[].env_file", "volumes.*.labels", "secrets.*.labels", "configs.*.labels",
    "services.*.build.extra_hosts", "services.*.build.ssh", "services.*.depends_on",
    "services.*.deploy.resources.reservations.devices.[].capabilities",
    "services.*.deploy.resources.reservations.devices.[].device_ids", "services.*.develop.watch.[].ignore",
    "services.*.develop.watch.[].include", "services.*.device_cgroup_rules", "services.*.external_links",
    "services.*.extra_hosts", "services.*.gpus.[].capabilities", "services.*.gpus.[].device_ids",
    "services.*.group_add", "services.*.models", "services.*.networks", "services.*.post_start.[].environment",
    "services.*.pre_stop.[].environment", "services.*.security_opt", "services.*.volumes.[].volume.labels",
    "services.*.volumes_from",
)]


def check_unique_items(data: Any, locate: Any, path: Path_ = ()) -> None:
    """Refuse a repeated item in a list that must hold each item once; ``locate`` finds where."""
    if isinstance(data, dict):
        for key, value in data.items():
            if not (isinstance(key, str) and key.startswith("x-")):
                check_unique_items(value, locate, (*path, key))
        return
    if not isinstance(data, list):
        return
    if _matches_any(path, _UNIQUE_ITEMS):
        seen: set[str] = set()
        for index, item in enumerate(data):
            if repr(item) in seen:
                raise SchemaError(f"{_dotted(path)}: {item!r} is listed twice", locate((*path, index)))
            seen.add(repr(item))
    for index, value in enumerate(data):
        check_unique_items(value, locate, (*path, index))


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _matches_any(path: Path_, patterns: list[tuple[str, ...]]) -> bool:
    return any(_matches(path, p) for p in patterns)


def _matches(path: Path_, pattern: tuple[str, ...]) -> bool:
    if len(path) != len(pattern):
        return False
    for part, want in zip(path, pattern, strict=True):
        if want == "[]":
            if not isinstance(part, int):
                return False
        elif want != "*" and want != part:
            return False
    return True


def check_values(data: Any, source: SourceMap, path: Path_ = ()) -> None:
    """Refuse a `null` where Compose refuses one and any timestamp, with where it is written."""
    if path and isinstance(path[-1], str) and path[-1].startswith("x-"):
        return
    if data is None:
        if path and not _matches_any(path, _NULLABLE):
            raise SchemaError(f"{_dotted(path)} must not be empty (null)", source.locate(path))
        return
    if isinstance(data, Timestamp):
        raise SchemaError(f"{_dotted(path)}: {str(data)!r} is read as a date/time, which no Compose key accepts; "
                          "quote it", source.locate(path))
    if isinstance(data, bool | int | float) and _matches_any(path, _STRINGS):
        raise SchemaError(f"{_dotted(path)} must be a string (quote it)", source.locate(path))
    if isinstance(data, bool | float) and _matches(path, ("services", "*", "expose", "[]")):
        raise SchemaError(f"{_dotted(path)}: unsupported expose value {data!r} (a port number or a string)",
                          source.locate(path))
    if isinstance(data, dict):
        for key, value in data.items():
            check_values(value, source, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_values(value, source, (*path, index))
    if not path:
        check_unique_items(data, source.locate)
