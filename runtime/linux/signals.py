"""Signal names as Docker and Compose accept them."""

from __future__ import annotations

import signal

from runtime.errors import RuntimeFailure


def signal_number(name: str) -> int:
    """`SIGTERM`, `TERM`, `term` or `15` → 15; RuntimeFailure for anything else."""
    if name.isdigit():
        return int(name)
    key = name.upper()
    key = key if key.startswith("SIG") else "SIG" + key
    try:
        return int(signal.Signals[key])
    except KeyError as exc:
        raise RuntimeFailure(f"unknown signal {name!r}") from exc
