"""Crash points: where the engine may die between two side effects, numbered for fault injection.

Every side effect of the engine on the kernel, the disk or its store is preceded by a named
`point(...)`. Normally a point costs one attribute read. A test arms the engine (`arm`, from
``PYORCH_CRASH_AT=N`` read by the daemon's `main`, never by the shim) to SIGKILL itself at its
Nth point, which covers every step exactly, where a kill at a random time mostly hits the longest
ones; ``PYORCH_CRASH_TRACE=FILE`` appends each point reached (``N name``), so that a test first
learns how many points a scenario has and then kills at seeded ones of them.

The design this serves (docs/engine.md, "Crash consistency"): whatever point the process dies
at, the next pass finds a state it can converge from.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading

_armed = False
_kill_at = 0
_trace: str | None = None
_counter = itertools.count(1)
_guard = threading.Lock()


def arm(kill_at: int, trace: str | None = None) -> None:
    """SIGKILL this process at its ``kill_at``th point (0: never); append each point to ``trace``."""
    global _armed, _kill_at, _trace
    _kill_at, _trace = kill_at, trace
    _armed = bool(kill_at or trace)


def arm_from_env(environ: dict[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    raw = env.get("PYORCH_CRASH_AT", "0")
    arm(int(raw) if raw.isdigit() else 0, env.get("PYORCH_CRASH_TRACE") or None)


def point(name: str) -> None:
    """A side effect named ``name`` comes next."""
    if not _armed:
        return
    with _guard:
        number = next(_counter)
        if _trace:
            with open(_trace, "a") as f:
                f.write(f"{number} {name}\n")
    if number == _kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
