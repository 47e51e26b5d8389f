"""Short Compose syntaxes → long form, as plain data (used by the model's validators).

Each function takes what YAML gave (already interpolated) and returns the long-form structure,
or raises ValueError with a message naming the offending value.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from typing import Any, TypeVar, cast

from orchestrator.spec.goformat import go_text

_PROTOCOLS = ("tcp", "udp", "sctp")

_F = TypeVar("_F", bound=Callable[..., Any])


def _keep_none(function: _F) -> _F:
    """An absent value (None) passes through every converter unchanged."""
    @functools.wraps(function)
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        return None if value is None else function(value, *args, **kwargs)
    return cast(_F, wrapper)
_PROPAGATION = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def scalar_text(value: Any) -> str | None:
    """A YAML scalar as the string Compose uses (`true`, `1`, `1.5`); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return go_text(value)
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


def _port_range(text: str, what: str) -> tuple[int, int]:
    """`8000` or `8000-8010`, each a 16-bit number (Docker's nat.ParsePortRange)."""
    start_text, sep, end_text = text.partition("-")
    try:
        start = _uint16(start_text)
        end = _uint16(end_text) if sep else start
    except ValueError:
        raise ValueError(f"invalid {what}: {text}") from None
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def _uint16(text: str) -> int:
    if not text.isdigit() or not text.isascii() or int(text) > 65535:
        raise ValueError(text)
    return int(text)


@_keep_none
def ports(value: Any) -> list[Any]:
    """`ports`: strings and numbers are expanded as Docker does; mappings are kept for the model."""
    if not isinstance(value, list):
        raise ValueError("ports must be a list")
    out: list[Any] = []
    for item in value:
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            out.extend(short_port(str(item)))
        elif isinstance(item, str):
            out.extend(short_port(item))
        else:
            raise ValueError(f"invalid type {type(item).__name__} for port")
    return out


def short_port(text: str) -> list[dict[str, Any]]:
    """`[[IP:](HOST|RANGE):](CONTAINER|RANGE)[/PROTO]` → long form, one entry per container port.

    Docker's rules (nat.ParsePortSpec): the IP is everything before the last two `:`-separated
    parts (`[...]` around IPv6 is dropped); a single container port may take a host range (kept as
    the range, to pick a free port from); the entries come out sorted by `PORT/PROTO` as text.
    """
    parts = text.split(":")
    container = parts[-1]
    host_ip, published = "", ""
    if len(parts) == 2:
        published = parts[0]
    elif len(parts) == 3:
        host_ip, published = parts[0], parts[1]
    elif len(parts) > 3:
        host_ip, published = ":".join(parts[:-2]), parts[-2]
    container, _, protocol = container.partition("/")
    protocol = (protocol or "tcp").lower() if container else ""
    if host_ip.startswith("["):
        if not host_ip.endswith("]"):
            raise ValueError(f"invalid IP address {host_ip}")
        host_ip = host_ip[1:-1]
    if host_ip and not _is_ip(host_ip):
        raise ValueError(f"invalid IP address: {host_ip}")
    if not container:
        raise ValueError(f"no port specified: {text}<empty>")
    start, end = _port_range(container, "containerPort")
    host_start = host_end = 0
    if published:
        host_start, host_end = _port_range(published, "hostPort")
        if end - start != host_end - host_start and end != start:
            raise ValueError(f"invalid ranges specified for container and host Ports: {container} and {published}")
    if protocol not in _PROTOCOLS:
        raise ValueError(f"invalid proto: {protocol}")
    entries = []
    for offset in range(end - start + 1):
        host = ""
        if published:
            host = str(host_start + offset)
            if start == end and host_start != host_end:
                host = f"{host}-{host_end}"
        entry: dict[str, Any] = {"mode": "ingress", "target": start + offset, "protocol": protocol}
        if host:
            entry["published"] = host
        if host_ip:
            entry["host_ip"] = host_ip
        entries.append((f"{start + offset}/{protocol}", entry))
    return [entry for _, entry in sorted(entries, key=lambda pair: pair[0])]


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and source[0].isalpha() and source[1] == ":"


def short_volume(text: str) -> dict[str, Any]:
    """`[SOURCE:]TARGET[:OPTIONS]` → long form, as Compose reads it (format.ParseVolume).

    A path-like source (`.`, `/`, `~`, a Windows drive) is a bind mount that creates the host path;
    otherwise a named volume (anonymous without a source). `${...}` and a drive letter's `:` do not
    split. Options: `ro`, `rw`, `nocopy`, `z`, `Z` and propagation modes; others (`cached`,
    `delegated`, ...) are ignored, as Compose ignores them.
    """
    if not text:
        raise ValueError("invalid empty volume spec")
    if len(text) <= 2:
        return {"type": "volume", "target": text}
    fields: dict[str, str] = {}
    options: dict[str, Any] = {}
    buffer: list[str] = []
    depth = 0
    spec = text + "\0"
    for index, char in enumerate(spec):
        at_end = index == len(text)
        if char == "$" and index + 1 < len(text) and text[index + 1] == "{":
            depth += 1
            buffer.append(char)
            continue
        if char == "}" and depth > 0:
            depth -= 1
            buffer.append(char)
            continue
        if char == ":" and len(buffer) == 1 and buffer[0].isalpha():
            buffer.append(char)
        elif (char == ":" or at_end) and depth == 0:
            _volume_field("".join(buffer), at_end, fields, options, text)
            buffer = []
        else:
            buffer.append(char)
    source = fields.get("source", "")
    entry: dict[str, Any] = {"type": "bind" if _is_path(source) else "volume"}
    if source:
        entry["source"] = source
    entry["target"] = fields.get("target", "")
    if "read_only" in options:
        entry["read_only"] = options["read_only"]
    if entry["type"] == "bind":
        entry["bind"] = {**options.get("bind", {}), "create_host_path": True}
    else:
        if "bind" in options:
            entry["bind"] = options["bind"]
        entry["volume"] = options.get("volume", {})
    return entry


def _volume_field(buffer: str, at_end: bool, fields: dict[str, str], options: dict[str, Any], text: str) -> None:
    if not buffer:
        raise ValueError(f"invalid spec: {text}: empty section between colons")
    if "source" not in fields and at_end:
        fields["target"] = buffer
    elif "source" not in fields:
        fields["source"] = buffer
    elif "target" not in fields:
        fields["target"] = buffer
    elif not at_end:
        raise ValueError(f"invalid spec: {text}: too many colons")
    else:
        for option in buffer.split(","):
            if option in ("ro", "rw"):
                options["read_only"] = option == "ro"
            elif option == "nocopy":
                options["volume"] = {"nocopy": True}
            elif option in ("z", "Z"):
                options.setdefault("bind", {})["selinux"] = option
            elif option in _PROPAGATION:
                options.setdefault("bind", {})["propagation"] = option


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
