"""Merging two long-form service definitions (multi-file overrides and `extends`).

Rules (Compose specification, "Merge", as Compose v2 applies them): mappings are merged key by
key; sequences are appended; scalars are replaced. Exceptions: `command`, `entrypoint` and
`healthcheck.test` are replaced; `logging.options` are merged only when the driver does not
change. `!reset` (directive "reset") removes an attribute, `!override` replaces it.

Then, as Compose does after every file, the sequences it keeps unique are made unique
(`enforce_unicity`): one entry per key, the last one written, at the first one's position. Keys:
ports by host IP, published port, target and protocol; volumes and devices by target; secrets
and configs by where they are mounted; env files by path; `cap_add`, `cap_drop`, `dns`,
`dns_opt`, `dns_search`, `expose`, `links`, `profiles`, `tmpfs`, `build.tags` and network
`aliases`/`link_local_ips` by their text up to a `=`. Other sequences keep their duplicates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

Directives = Mapping[tuple[str | int, ...], str]

_REPLACED = {("command",), ("entrypoint",), ("healthcheck", "test"), ("build", "ssh")}


def _text_key(item: Any) -> Any:
    return str(item).split("=", 1)[0]


def _port_key(item: Any) -> Any:
    """Compose's: host IP (default 0.0.0.0), published, target and protocol (default tcp)."""
    if not isinstance(item, dict):
        return repr(item)
    return (item.get("host_ip") or "0.0.0.0", item.get("published"), item.get("target"), item.get("protocol") or "tcp")


def _target_key(item: Any) -> Any:
    if not isinstance(item, dict):
        return repr(item)
    return item.get("target") or item.get("source")


def _mount_key(directory: str) -> Callable[[Any], Any]:
    """A secret or config is unique by where it is mounted (its default place when no target)."""
    def key(item: Any) -> Any:
        if not isinstance(item, dict):
            return repr(item)
        return item.get("target") or f"{directory}/{item.get('source')}"
    return key


def _env_file_key(item: Any) -> Any:
    return item.get("path") if isinstance(item, dict) else item


def _device_key(item: Any) -> Any:
    return item.get("target") or item.get("source") if isinstance(item, dict) else item


_UNIQUE_BY: dict[tuple[str, ...], Callable[[Any], Any]] = {
    ("ports",): _port_key,
    ("volumes",): _target_key,
    ("secrets",): _mount_key("/run/secrets"),
    ("configs",): _mount_key(""),
    ("env_file",): _env_file_key,
    ("devices",): _device_key,
    **{(key,): _text_key for key in ("cap_add", "cap_drop", "dns", "dns_opt", "dns_search", "expose", "links",
                                     "profiles", "tmpfs")},
    ("build", "tags"): _text_key,
}
_UNIQUE_IN_NETWORKS = ("aliases", "link_local_ips")


def enforce_unicity(service: dict[str, Any]) -> None:
    """Make the service's unique sequences unique, in place (see the module's docstring)."""
    for path, key in _UNIQUE_BY.items():
        parent: Any = service
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and isinstance(parent.get(path[-1]), list):
            parent[path[-1]] = _unique(parent[path[-1]], key)
    for network in (service.get("networks") or {}).values() if isinstance(service.get("networks"), dict) else []:
        for name in _UNIQUE_IN_NETWORKS:
            if isinstance(network, dict) and isinstance(network.get(name), list):
                network[name] = _unique(network[name], _text_key)


def merge_service(base: Mapping[str, Any], override: Mapping[str, Any], directives: Directives) -> dict[str, Any]:
    """Merge `override` into a copy of `base`; directive paths are relative to the service."""
    result = _merge_mapping(dict(base), override, (), directives)
    for path, directive in directives.items():
        if directive == "reset":
            remove_path(result, path)
    return result


def _merge_mapping(base: dict[str, Any], override: Mapping[str, Any], path: tuple[str, ...],
                   directives: Directives) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        here = (*path, key)
        if directives.get(here) == "override" or key not in result or result[key] is None or value is None:
            result[key] = copy.deepcopy(value)
        else:
            result[key] = _merge_value(result[key], value, here, directives)
    return result


def _merge_value(base: Any, override: Any, path: tuple[str, ...], directives: Directives) -> Any:
    if path in _REPLACED:
        return copy.deepcopy(override)
    if path == ("logging",) and isinstance(base, dict) and isinstance(override, dict):
        if override.get("driver") not in (None, base.get("driver")):
            return copy.deepcopy(override)
    if isinstance(base, dict) and isinstance(override, dict):
        return _merge_mapping(base, override, path, directives)
    if isinstance(base, list) and isinstance(override, list):
        return [*copy.deepcopy(base), *copy.deepcopy(override)]
    return copy.deepcopy(override)


def _unique(items: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    """Keep one entry per key, the last one written, at the position of the first."""
    order: dict[Any, int] = {}
    out: list[Any] = []
    for item in items:
        k = key(item)
        if k in order:
            out[order[k]] = item
        else:
            order[k] = len(out)
            out.append(item)
    return out


def remove_path(data: dict[str, Any], path: tuple[str | int, ...]) -> None:
    """Delete the entry at `path` if it exists (the root itself is never removed)."""
    if not path:
        return
    node: Any = data
    for part in path[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)
