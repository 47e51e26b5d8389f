"""`ulimits`: resource limits set in the container before exec, within what the host allows.

Raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace; hosts like ours run
without it, so a limit above the engine's own hard limit is refused up front with the number.
"""

from __future__ import annotations

import functools
import resource

from runtime.errors import ConfigurationError


class UlimitError(ConfigurationError):
    """An unknown resource or a limit this host cannot grant."""


UNLIMITED = resource.RLIM_INFINITY
_NAMES = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
          "rss", "rtprio", "rttime", "sigpending", "stack")


@functools.cache  # the engine's capabilities do not change while it runs; read once per process
def _can_raise_hard_limits() -> bool:
    try:
        with open("/proc/self/status") as f:
            eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return False
    return bool(eff & (1 << 24))  # CAP_SYS_RESOURCE


def check_ulimits(ulimits: dict[str, tuple[int, int]]) -> list[tuple[str, int, int]]:
    """Validate `{name: (soft, hard)}` and return (name, soft, hard) for the child; -1 = unlimited both ways."""
    result: list[tuple[str, int, int]] = []
    privileged = _can_raise_hard_limits()
    for name, (soft, hard) in sorted(ulimits.items()):
        if name not in _NAMES:
            raise UlimitError(f"ulimit {name!r}: unknown resource (known: {', '.join(_NAMES)})")
        soft_v = UNLIMITED if soft < 0 else soft
        hard_v = UNLIMITED if hard < 0 else hard
        if hard_v != UNLIMITED and (soft_v == UNLIMITED or soft_v > hard_v):
            raise UlimitError(f"ulimit {name}: soft limit {soft} is above the hard limit {hard}")
        _, host_hard = resource.getrlimit(getattr(resource, "RLIMIT_" + name.upper()))
        above = host_hard != UNLIMITED and (hard_v == UNLIMITED or hard_v > host_hard)
        if above and not privileged:
            shown = "unlimited" if host_hard == UNLIMITED else str(host_hard)
            raise UlimitError(f"ulimit {name}: hard limit {hard} is above the host's {shown}, and this host "
                              "cannot raise limits (no CAP_SYS_RESOURCE)")
        result.append((name, -1 if soft_v == UNLIMITED else soft_v, -1 if hard_v == UNLIMITED else hard_v))
    return result
