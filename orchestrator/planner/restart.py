"""Docker's restart manager as pure functions (moby daemon/internal/restartmanager).

Delay: 100 ms, doubling, capped at 60 s; reset to 100 ms when the last run lasted 10 s or more.
The retry counter never resets on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

BASE_DELAY_S = 0.1
MAX_DELAY_S = 60.0
RESET_AFTER_S = 10.0


@dataclass(frozen=True)
class RestartPolicy:
    name: str                 # no | always | on-failure | unless-stopped
    max_retries: int = 0      # on-failure:N, 0 = unlimited

    @classmethod
    def parse(cls, text: str | None) -> RestartPolicy:
        raw = (text or "no").strip()
        name, _, count = raw.partition(":")
        if name in ("", "none"):
            name = "no"
        if name == "any":
            name = "always"
        if name not in ("no", "always", "on-failure", "unless-stopped"):
            raise ValueError(f"invalid restart policy {raw!r}")
        if count and name != "on-failure":
            raise ValueError(f"maximum retry count is valid only with on-failure: {raw!r}")
        retries = int(count) if count else 0
        if retries < 0:
            raise ValueError(f"maximum retry count must be >= 0: {raw!r}")
        return cls(name, retries)


def should_restart(policy: RestartPolicy, exit_code: int, restart_count: int, stopped_by_user: bool,
                   engine_boot: bool = False) -> bool:
    """Docker's decision. At engine (daemon) start "always" brings back even manually stopped containers;
    that is the one observable difference from "unless-stopped"."""
    if stopped_by_user:
        return engine_boot and policy.name == "always"
    if policy.name == "always" or policy.name == "unless-stopped":
        return True
    if policy.name == "on-failure":
        return exit_code != 0 and (policy.max_retries == 0 or restart_count < policy.max_retries)
    return False


def next_delay(previous_delay: float, last_run_s: float) -> float:
    """The delay before the next restart, given the one used last time (0 for none yet)."""
    delay = 0.0 if last_run_s >= RESET_AFTER_S else previous_delay
    delay = BASE_DELAY_S if delay == 0 else min(delay * 2, MAX_DELAY_S)
    return min(delay, MAX_DELAY_S)
