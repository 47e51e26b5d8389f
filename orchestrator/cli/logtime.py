"""`logs --since/--until`: Docker's time forms (RFC 3339, Unix seconds, or a duration ago such as `42m`)."""

from __future__ import annotations

import datetime as dt
import re

from orchestrator.errors import PyorchError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_instant(text: str, now: float) -> float:
    """Epoch seconds for a `--since` value; ``now`` makes relative forms testable."""
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    if value and _DURATION.sub("", value) == "":
        return now - sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(value))
    try:
        return record_time(value if "T" in value or " " in value else value + "T00:00:00Z")
    except ValueError:
        raise PyorchError(f"invalid time {text!r}: use RFC 3339 (2026-01-02T15:04:05Z), Unix seconds "
                          "or a duration such as 42m or 1h30m") from None


def record_time(stamp: str) -> float:
    """Epoch seconds of a log record's RFC 3339 time with up to nanoseconds (Python parses microseconds)."""
    text = stamp.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    match = re.fullmatch(r"([^.]+)(\.\d+)?(.*)", text)
    if match is None:
        raise ValueError(stamp)
    base, fraction, zone = match.groups()
    parsed = dt.datetime.fromisoformat(base + (fraction or "")[:7] + zone)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()
