"""Short Compose syntaxes → long form, as plain data (used by the model's validators).

Each function takes what YAML gave (already interpolated) and returns the long-form structure,
or raises ValueError with a message naming the offending value.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable
from typing import Any, TypeVar, cast

_PROTOCOLS = ("tcp", "udp", "sctp")

_F = TypeVar("_F", bound=Callable[..., Any])


def _keep_none(function: _F) -> _F:
    """An absent value (None) passes through every converter unchanged."""
    @functools.wraps(function)
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        return None if value is None else function(value, *args, **kwargs)
    return cast(_F, wrapper)
_PROPAGATION = ("shared", "slave", "private", "rshared", "rslave", "rprivate")


def scalar_text(value: Any) -> str | None:
    """A YAML scalar as the string Compose uses (`true`, `1`, `1.5`); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"expected a string, number or boolean, got {type(value).__name__}")


@_keep_none
def list_or_dict(value: Any, separator: str = "=", allow_none: bool = True) -> dict[str, str | None]:
    """`{K: V}` or `["K=V", "K"]` → dict; a bare `K` maps to None (value looked up later)."""
    if isinstance(value, dict):
        result = {str(k): scalar_text(v) for k, v in value.items()}
    elif isinstance(value, list):
        result = {}
        for item in value:
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise ValueError(f"expected 'KEY{separator}VALUE' strings, got {item!r}")
            text = str(item)
            key, sep, val = text.partition(separator)
            if not key:
                raise ValueError(f"invalid entry {text!r}: empty key")
            result[key] = val if sep else None
    else:
        raise ValueError("expected a mapping or a list of 'KEY=VALUE' strings")
    if not allow_none and any(v is None for v in result.values()):
        missing = next(k for k, v in result.items() if v is None)
        raise ValueError(f"{missing!r} has no value")
    return result


@_keep_none
def string_dict(value: Any, separator: str = "=") -> dict[str, str]:
    """list_or_dict where a missing value is the empty string (labels, annotations, sysctls…)."""
    return {k: ("" if v is None else v) for k, v in list_or_dict(value, separator).items()}


@_keep_none
def string_list(value: Any) -> list[str]:
    """A string or a list of scalars → list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out = []
        for item in value:
            text = scalar_text(item)
            if text is None:
                raise ValueError("list items must not be null")
            out.append(text)
        return out
    raise ValueError("expected a string or a list of strings")


def command(value: Any) -> list[str] | None:
    """`command`/`entrypoint`: a string is split like a shell would (no expansion)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command {value!r}: {exc}") from None
    return string_list(value)


def _port_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not match:
        raise ValueError(f"invalid port {text!r}")
    start = int(match.group(1))
    end = int(match.group(2) or start)
    if end < start or end > 65535:
        raise ValueError(f"invalid port range {text!r}")
    return start, end


@_keep_none
def ports(value: Any) -> list[Any]:
    """`ports`: strings/ints are expanded; mappings are kept for the model to check."""
    if not isinstance(value, list):
        raise ValueError("ports must be a list")
    out: list[Any] = []
    for item in value:
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            out.append({"target": item, "protocol": "tcp", "mode": "ingress"})
        elif isinstance(item, str):
            out.extend(short_port(item))
        else:
            raise ValueError(f"invalid port {item!r}")
    return out


def short_port(text: str) -> list[dict[str, Any]]:
    """`[[IP:](HOST|RANGE):](CONTAINER|RANGE)[/PROTO]` → one long-form entry per container port."""
    spec, _, protocol = text.strip().partition("/")
    protocol = protocol or "tcp"
    if protocol not in _PROTOCOLS:
        raise ValueError(f"invalid protocol {protocol!r} in port {text!r}")
    host_ip: str | None = None
    published: str | None = None
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0:
            raise ValueError(f"invalid IPv6 address in port {text!r}")
        host_ip = spec[1:close]
        rest = spec[close + 1:]
        if not rest.startswith(":"):
            raise ValueError(f"invalid port {text!r}")
        published, _, container = rest[1:].rpartition(":")
        if not _:
            container, published = rest[1:], None
    else:
        parts = spec.split(":")
        if len(parts) == 1:
            container = parts[0]
        elif len(parts) == 2:
            published, container = parts
        elif len(parts) == 3:
            host_ip, published, container = parts
        else:
            raise ValueError(f"invalid port {text!r}")
    start, end = _port_range(container)
    published = published or None
    if published is None:
        pub_ranges = None
    else:
        p_start, p_end = _port_range(published)
        pub_ranges = (p_start, p_end)
    entries = []
    count = end - start + 1
    for offset in range(count):
        pub: str | None
        if pub_ranges is None:
            pub = None
        elif count == 1:
            pub = published
        elif pub_ranges[1] - pub_ranges[0] + 1 == count:
            pub = str(pub_ranges[0] + offset)
        elif pub_ranges[0] == pub_ranges[1]:
            raise ValueError(f"port {text!r}: a container port range needs a host range of the same size")
        else:
            raise ValueError(f"port {text!r}: host and container ranges differ in size")
        entry: dict[str, Any] = {"target": start + offset, "protocol": protocol, "mode": "ingress"}
        if pub is not None:
            entry["published"] = pub
        if host_ip:
            entry["host_ip"] = host_ip
        entries.append(entry)
    return entries


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or re.match(r"^[a-zA-Z]:[\\/]", source) is not None


def short_volume(text: str) -> dict[str, Any]:
    """`[SOURCE:]TARGET[:MODE]` → long form; a path-like source means a bind mount."""
    parts = text.split(":")
    modes: list[str] = []
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    if len(parts) == 2 and not parts[1].startswith("/") and _all_modes(parts[1]):
        source, target, modes = "", parts[0], parts[1].split(",")
    elif len(parts) == 2:
        source, target = parts
    elif len(parts) == 3:
        source, target, modes = parts[0], parts[1], parts[2].split(",")
    else:
        raise ValueError(f"invalid volume {text!r} (expected SOURCE:TARGET[:MODE])")
    if not target:
        raise ValueError(f"invalid volume {text!r}: empty target")
    entry: dict[str, Any] = {"target": target}
    if not source:
        entry["type"] = "volume"
    elif _is_path(source):
        entry.update(type="bind", source=source, bind={"create_host_path": True})
    else:
        entry.update(type="volume", source=source)
    for mode in filter(None, modes):
        if mode == "ro":
            entry["read_only"] = True
        elif mode == "rw":
            entry["read_only"] = False
        elif mode in ("z", "Z"):
            entry.setdefault("bind", {})["selinux"] = mode
        elif mode in _PROPAGATION:
            entry.setdefault("bind", {})["propagation"] = mode
        elif mode == "nocopy":
            entry.setdefault("volume", {})["nocopy"] = True
        else:
            raise ValueError(f"invalid mode {mode!r} in volume {text!r}")
    return entry


def _all_modes(text: str) -> bool:
    known = {"ro", "rw", "z", "Z", "nocopy", *_PROPAGATION}
    return all(m in known for m in text.split(","))


@_keep_none
def extra_hosts(value: Any) -> dict[str, str]:
    """`["host:ip", "host=ip"]` or `{host: ip}` → dict (IPv6 addresses may contain ':')."""
    if isinstance(value, dict):
        out = {}
        for host, address in value.items():
            if isinstance(address, list):
                if len(address) != 1:
                    raise ValueError(f"extra host {host!r}: only one address per host is supported")
                address = address[0]
            text = scalar_text(address)
            if text is None:
                raise ValueError(f"extra host {host!r} has no address")
            out[str(host)] = text
        return out
    out = {}
    for item in string_list(value):
        if "=" in item:
            host, _, address = item.partition("=")
        else:
            host, sep, address = item.partition(":")
            if not sep:
                raise ValueError(f"invalid extra host {item!r} (expected HOST:IP or HOST=IP)")
        out[host] = address.strip("[]")
    return out


@_keep_none
def depends_on(value: Any) -> Any:
    """The list form means `condition: service_started`."""
    if isinstance(value, list):
        return {name: {"condition": "service_started", "required": True} for name in string_list(value)}
    return value


@_keep_none
def keyed_list(value: Any) -> Any:
    """`networks`/`models` list form → mapping with empty entries."""
    if isinstance(value, list):
        return dict.fromkeys(string_list(value))
    return value


@_keep_none
def healthcheck_test(value: Any) -> Any:
    """A string test means `CMD-SHELL`."""
    if isinstance(value, str):
        return ["CMD-SHELL", value]
    return string_list(value)
