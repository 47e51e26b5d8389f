"""Where a Compose file may hold `null` (or nothing: `key:`), and where a YAML timestamp is refused.

Compose's schema refuses `null` almost everywhere: `environment:` or `networks:` left empty is an
error there ("must be a mapping", "must be a array"), not an absent key. The places it accepts
one are listed here (`*` is any key, `[]` any item); `x-*` keys may hold anything. An unquoted
date or time (`2024-01-31`) is read by Compose's YAML library as a timestamp, which no Compose
key accepts: it must be quoted.
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
        if path and not any(_matches(path, p) for p in _NULLABLE):
            dotted = ".".join(str(p) for p in path)
            raise SchemaError(f"{dotted} must not be empty (null)", source.locate(path))
        return
    if isinstance(data, Timestamp):
        dotted = ".".join(str(p) for p in path)
        raise SchemaError(f"{dotted}: {str(data)!r} is read as a date/time, which no Compose key accepts; "
                          "quote it", source.locate(path))
    if isinstance(data, dict):
        for key, value in data.items():
            check_values(value, source, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_values(value, source, (*path, index))
