"""Compose units: durations (`1m30s`) → float seconds, byte sizes (`512m`) → int bytes."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)?\s*$", re.IGNORECASE)
_BYTE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_duration(value: object) -> float:
    """Go-style duration (`1h2m3.5s`, `500ms`) or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"invalid duration {value!r}: must not be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}")
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _DURATION_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"invalid duration {value!r} (use a number with a unit: 10s, 1m30s, 500ms)")
    return total


def parse_bytes(value: object) -> int:
    """Byte size with an optional unit (b, k, m, g; `kb`, `mb`… and `kib`… accepted; 1024-based)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid byte size {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid byte size {value!r}: must not be negative")
        return value
    if isinstance(value, float):
        if value < 0 or value != value:
            raise ValueError(f"invalid byte size {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"invalid byte size {value!r}")
    match = _BYTES.match(value)
    if not match:
        raise ValueError(f"invalid byte size {value!r} (use a number with an optional unit: 512m, 1g, 100k)")
    return int(float(match.group(1)) * _BYTE_FACTORS[match.group(2).lower()])
