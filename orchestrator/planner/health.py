"""Docker's health-check state machine (moby daemon/health.go), as pure functions.

One success makes a container healthy; failures count only outside the start period while the
container is still "starting"; `retries` consecutive counted failures make it unhealthy; the last
five results are kept, each output capped at 4096 bytes. See shared/reference/semantics.md §4.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

MAX_OUTPUT = 4096
MAX_LOG = 5
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_PERIOD = 0.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class HealthCheck:
    """A resolved check: ``args`` is what gets exec'd (CMD-SHELL already wrapped in /bin/sh -c)."""

    args: tuple[str, ...]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    start_period: float = DEFAULT_START_PERIOD
    start_interval: float = DEFAULT_START_INTERVAL
    retries: int = DEFAULT_RETRIES

    @classmethod
    def from_test(cls, test: list[str] | str | None, interval: float | None = None, timeout: float | None = None,
                  start_period: float | None = None, start_interval: float | None = None,
                  retries: int | None = None) -> HealthCheck | None:
        """Build from Compose/Docker fields; ``None`` for NONE, an empty test, or no test. Zero means default."""
        if test is None:
            return None
        if isinstance(test, str):
            items = ["CMD-SHELL", test]
        else:
            items = list(test)
        if not items or items[0] == "NONE":
            return None
        kind, rest = items[0], items[1:]
        if kind == "CMD":
            args = tuple(rest)
        elif kind == "CMD-SHELL":
            args = ("/bin/sh", "-c", " ".join(rest))
        else:
            raise ValueError(f"healthcheck test must start with CMD, CMD-SHELL or NONE, not {kind!r}")
        if not args:
            return None
        return cls(
            args=args,
            interval=interval or DEFAULT_INTERVAL,
            timeout=timeout or DEFAULT_TIMEOUT,
            start_period=start_period or DEFAULT_START_PERIOD,
            start_interval=start_interval or DEFAULT_START_INTERVAL,
            retries=DEFAULT_RETRIES if retries is None else retries,
        )


@dataclass(frozen=True)
class ProbeResult:
    start: float
    end: float
    exit_code: int
    output: str


@dataclass(frozen=True)
class HealthState:
    status: str = "starting"        # starting | healthy | unhealthy
    failing_streak: int = 0
    log: tuple[ProbeResult, ...] = field(default_factory=tuple)


def state_to_dict(state: HealthState) -> dict[str, Any]:
    return {"status": state.status, "failing_streak": state.failing_streak,
            "log": [[r.start, r.end, r.exit_code, r.output] for r in state.log]}


def state_from_dict(raw: dict[str, Any]) -> HealthState:
    log = tuple(ProbeResult(float(s), float(e), int(c), str(o)) for s, e, c, o in raw.get("log", []))
    return HealthState(str(raw.get("status", "starting")), int(raw.get("failing_streak", 0)), log[-MAX_LOG:])


def cap_output(raw: bytes) -> str:
    text = raw[:MAX_OUTPUT].decode(errors="replace")
    return text + "..." if len(raw) > MAX_OUTPUT else text


def apply_result(state: HealthState, result: ProbeResult, check: HealthCheck, started_at: float) -> HealthState:
    log = (*state.log, result)[-MAX_LOG:]
    if result.exit_code == 0:
        return HealthState("healthy", 0, log)
    in_start_period = state.status == "starting" and result.start - started_at < check.start_period
    if in_start_period:
        return replace(state, log=log)
    streak = state.failing_streak + 1
    status = "unhealthy" if streak >= check.retries else state.status
    return HealthState(status, streak, log)


def next_probe_delay(now: float, started_at: float, state: HealthState, check: HealthCheck) -> float:
    """The wait before the next probe, counted from the end of the last one (or from the start)."""
    if now - started_at >= check.start_period:
        return check.interval
    if state.status == "starting":
        return check.start_interval
    return check.interval
