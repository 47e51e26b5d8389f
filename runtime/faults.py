"""Crash points: where the engine may die between two side effects, numbered for fault injection.

Every side effect of the engine on the kernel, the disk or its store is preceded by a named
`point(...)`. Normally a point costs one attribute read. A test arms the engine (`arm`, from
``PYORCH_CRASH_AT=N`` read by the daemon's `main`, never by the shim) to SIGKILL itself at its
Nth point, which covers every step exactly, where a kill at a random time mostly hits the longest
ones; ``PYORCH_CRASH_TRACE=FILE`` appends each point reached (``N name``), so that a test first
learns how many points a scenario has and then kills at seeded ones of them.

``PYORCH_CRASH_DO`` says what happens at that point instead of the engine's death: ``shim``
SIGKILLs the shim (the engine goes on, and meets a dead shim at its next request), ``fill:PATH``
fills the filesystem that holds PATH by writing PATH until not one block is left (the engine goes
on, and meets ENOSPC at its next write). Each happens once.

The design this serves (docs/engine.md, "Crash consistency"): whatever point the process dies
at, the next pass finds a state it can converge from.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from runtime.diskspace import NO_SPACE

_armed = False
_kill_at = 0
_trace: str | None = None
_counter = itertools.count(1)
_guard = threading.Lock()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


_fault: Callable[[], object] = _die


def arm(kill_at: int, trace: str | None = None, fault: Callable[[], object] = _die) -> None:
    """At this process's ``kill_at``th point (0: never) run ``fault`` (SIGKILL of this process by
    default); append each point to ``trace``."""
    global _armed, _kill_at, _trace, _fault
    _kill_at, _trace, _fault = kill_at, trace, fault
    _armed = bool(kill_at or trace)


def arm_from_env(run_root: Path) -> None:
    env = os.environ
    raw = env.get("PYORCH_CRASH_AT", "0")
    what = env.get("PYORCH_CRASH_DO", "")
    fault: Callable[[], object] = _die
    if what == "shim":
        fault = lambda: kill_shim(run_root)  # noqa: E731
    elif what.startswith("fill:"):
        fault = lambda: fill(Path(what.removeprefix("fill:")))  # noqa: E731
    arm(int(raw) if raw.isdigit() else 0, env.get("PYORCH_CRASH_TRACE") or None, fault)


def kill_shim(run_root: Path) -> None:
    """SIGKILL the shim serving ``run_root`` (found by its socket on its command line)."""
    socket = str(run_root / "shim.sock").encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if socket in argv:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except ProcessLookupError:
                pass


def fill(path: Path) -> int:
    """Write ``path`` until its filesystem has not one block left (megabytes, then pages, then
    bytes); returns the bytes written."""
    written = 0
    with open(path, "ab", buffering=0) as f:
        for chunk in (1 << 20, 4096, 512, 1):
            block = b"\0" * chunk
            while True:
                try:
                    written += f.write(block) or 0
                except OSError as exc:
                    if exc.errno not in NO_SPACE:
                        raise
                    break
    return written


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
        _fault()
