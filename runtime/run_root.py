"""Where the engine's socket, pid and log are. Shared by the host layout (`layout.py`) and the CLI,
which must find the engine before any exists; its own module because every CLI command imports
it, and `layout.py`'s dataclass would cost each ~8 ms of imports (standard library only, no
dataclasses: tests/unit/test_layering.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def run_root_of(env: Mapping[str, str]) -> Path:
    """`$PYORCH_RUN`, else `$PYORCH_ROOT/run`, else `/run/pyorch`."""
    if "PYORCH_RUN" in env:
        return Path(env["PYORCH_RUN"])
    if "PYORCH_ROOT" in env:
        return Path(env["PYORCH_ROOT"]) / "run"
    return Path("/run/pyorch")
