"""Dockerfile instructions applied to an image config, as `docker import --change` does.

Supported: ``CMD``, ``ENTRYPOINT`` (JSON array, or shell form run by ``/bin/sh -c``), ``ENV``
(``k=v …`` or the old ``k v``), ``EXPOSE`` (``80`` means ``80/tcp``), ``LABEL``, ``USER``,
``WORKDIR``, ``STOPSIGNAL``, ``VOLUME`` (JSON array or words). Anything else is refused.
"""

from __future__ import annotations

import dataclasses
import json
import shlex

from runtime.image.config import ImageConfig
from runtime.image.errors import ImageError


class InvalidChange(ImageError):
    """A --change instruction that cannot be applied."""


def apply_changes(config: ImageConfig, changes: list[str]) -> ImageConfig:
    for change in changes:
        config = _apply(config, change)
    return config


def _apply(config: ImageConfig, change: str) -> ImageConfig:
    instruction, _, rest = change.strip().partition(" ")
    rest = rest.strip()
    keyword = instruction.upper()
    if not rest:
        raise InvalidChange(f"--change {change!r}: {keyword or 'instruction'} needs an argument")
    match keyword:
        case "CMD":
            return dataclasses.replace(config, cmd=_command(rest, change))
        case "ENTRYPOINT":
            return dataclasses.replace(config, entrypoint=_command(rest, change))
        case "ENV":
            env = {e.partition("=")[0]: e for e in config.env}
            for key, value in _pairs(rest, change, legacy_space=True):
                env[key] = f"{key}={value}"
            return dataclasses.replace(config, env=list(env.values()))
        case "LABEL":
            return dataclasses.replace(config, labels={**config.labels, **dict(_pairs(rest, change))})
        case "EXPOSE":
            ports = {*config.exposed_ports, *(_port(p, change) for p in rest.split())}
            return dataclasses.replace(config, exposed_ports=sorted(ports))
        case "VOLUME":
            volumes = _json_list(rest, change) if rest.startswith("[") else rest.split()
            return dataclasses.replace(config, volumes=sorted({*config.volumes, *volumes}))
        case "USER":
            return dataclasses.replace(config, user=rest)
        case "WORKDIR":
            return dataclasses.replace(config, working_dir=rest)
        case "STOPSIGNAL":
            return dataclasses.replace(config, stop_signal=rest)
    raise InvalidChange(f"--change {change!r}: {instruction!r} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, "
                        "LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR")


def _command(rest: str, change: str) -> list[str]:
    if rest.startswith("["):
        return _json_list(rest, change)
    return ["/bin/sh", "-c", rest]


def _json_list(rest: str, change: str) -> list[str]:
    try:
        value = json.loads(rest)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidChange(f"--change {change!r}: want a JSON array of strings")
    return value


def _pairs(rest: str, change: str, legacy_space: bool = False) -> list[tuple[str, str]]:
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise InvalidChange(f"--change {change!r}: {exc}") from None
    if legacy_space and "=" not in words[0]:
        key, _, value = rest.partition(" ")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise InvalidChange(f"--change {change!r}: {word!r} is not key=value")
        pairs.append((key, value))
    return pairs


def _port(text: str, change: str) -> str:
    number, _, protocol = text.partition("/")
    protocol = protocol.lower() or "tcp"
    if not number.isdigit() or not 0 < int(number) < 65536 or protocol not in ("tcp", "udp", "sctp"):
        raise InvalidChange(f"--change {change!r}: {text!r} is not a port like 80 or 53/udp")
    return f"{int(number)}/{protocol}"
