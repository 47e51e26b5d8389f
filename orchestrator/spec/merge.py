"""Merging two long-form service definitions (multi-file overrides and `extends`).

Rules (Compose specification, "Merge"): mappings are merged key by key; sequences are appended;
scalars are replaced. Exceptions: `command`, `entrypoint` and `healthcheck.test` are replaced;
`ports`, `volumes`, `secrets`, `configs` are appended and then made unique by their key (later
entries win); some string lists are de-duplicated; `logging.options` are merged only when the
driver does not change. `!reset` (directive "reset") removes an attribute, `!override` replaces it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

Directives = Mapping[tuple[str | int, ...], str]

_REPLACED = {("command",), ("entrypoint",), ("healthcheck", "test"), ("build", "ssh")}
_DEDUPLICATED = {
    ("cap_add",), ("cap_drop",), ("dns",), ("dns_opt",), ("dns_search",), ("expose",), ("profiles",),
    ("security_opt",), ("group_add",), ("tmpfs",), ("links",), ("external_links",), ("volumes_from",),
    ("device_cgroup_rules",), ("label_file",), ("build", "cache_from"), ("build", "cache_to"),
    ("build", "tags"), ("build", "platforms"),
}


def _port_key(item: Any) -> Any:
    if not isinstance(item, dict):
        return repr(item)
    return (item.get("host_ip"), item.get("target"), item.get("published"), item.get("protocol", "tcp"))


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
    ("build", "secrets"): _target_key,
    ("env_file",): _env_file_key,
    ("devices",): _device_key,
}


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
        combined = [*copy.deepcopy(base), *copy.deepcopy(override)]
        if path in _UNIQUE_BY:
            return _unique(combined, _UNIQUE_BY[path])
        if path in _DEDUPLICATED:
            return list(dict.fromkeys(combined))
        return combined
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
