"""Compose ``pull_policy`` and ``up --pull``: whether a service's image is pulled before it starts.

Compose's rules: ``always`` pulls every time; ``missing`` (and ``if_not_present``, the default)
only when the image is not in the store; ``never`` never does and fails if the image is missing;
``build`` leaves the image to the build step; ``daily``, ``weekly`` and ``every_<duration>``
(``every_12h``, ``every_1h30m``, ``every_2d``) pull when the last pull of that reference is older
than the period or unknown. ``refresh`` is treated as ``always``. ``up --pull always|missing|never``
overrides every service's policy.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from orchestrator.errors import EngineError
from runtime.errors import RuntimeFailure
from runtime.image import ImageNotFound, ImageStore, normalize
from runtime.image.registry import Registries, last_pulls, parse_platform, pull_image

_DAY = 86400.0
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": _DAY,
                 "w": 7 * _DAY}
_PERIOD_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")
_PERIOD = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w))+")
CLI_OVERRIDES = ("always", "missing", "never")


@dataclass(frozen=True)
class PullPolicy:
    mode: str                    # always | missing | never | build | periodic
    max_age: float | None = None  # seconds, for periodic


def parse_policy(text: str | None) -> PullPolicy:
    """The policy a service's ``pull_policy`` names (None: Compose's default, missing)."""
    value = (text or "missing").strip()
    if value in ("missing", "if_not_present"):
        return PullPolicy("missing")
    if value in ("always", "refresh"):
        return PullPolicy("always")
    if value in ("never", "build"):
        return PullPolicy(value)
    if value == "daily":
        return PullPolicy("periodic", _DAY)
    if value == "weekly":
        return PullPolicy("periodic", 7 * _DAY)
    if value.startswith("every_"):
        seconds = _period(value.removeprefix("every_"))
        if seconds > 0:
            return PullPolicy("periodic", seconds)
    raise EngineError(f"invalid pull_policy {value!r} (always, never, missing, build, daily, weekly, "
                      "every_<duration> such as every_12h)")


def _period(text: str) -> float:
    """Go durations (``12h``, ``1h30m``) plus days and weeks (``2d``, ``1w``, ``1d12h``); 0 if invalid."""
    if not _PERIOD.fullmatch(text):
        return 0.0
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PERIOD_PART.findall(text))


def should_pull(policy: PullPolicy, present: bool, last_pulled: float | None, now: float) -> bool:
    if policy.mode == "always":
        return True
    if policy.mode in ("never", "build"):
        return False
    if policy.mode == "missing" or not present:
        return not present
    return last_pulled is None or policy.max_age is None or now - last_pulled >= policy.max_age


def effective_policy(service_policy: str | None, override: str | None) -> PullPolicy:
    if override:
        if override not in CLI_OVERRIDES:
            raise EngineError(f"invalid --pull {override!r}: want always, missing or never")
        return PullPolicy(override)
    return parse_policy(service_policy)


def ensure_image(store: ImageStore, registries: Registries, service: str, image: str,
                 service_policy: str | None, override: str | None = None, platform: str | None = None) -> None:
    """Pull ``image`` when the policy says so; refuse when it is needed and absent (side effect: a pull)."""
    policy = effective_policy(service_policy, override)
    try:
        reference = normalize(image)
        store.resolve(image)
        present = True
    except ImageNotFound:
        present = False
    except RuntimeFailure as exc:
        raise EngineError(f"service {service!r}: {exc}") from exc
    if should_pull(policy, present, last_pulls(store).get(reference), time.time()):
        try:
            pull_image(store, registries, image, parse_platform(platform) if platform else None)
        except (RuntimeFailure, ValueError) as exc:
            raise EngineError(f"service {service!r}: pulling {image}: {exc}") from exc
    elif not present:
        why = {"never": "pull_policy is never", "build": "pull_policy is build and it is not built"}.get(
            policy.mode, "it is not in the store")
        raise EngineError(f"service {service!r}: image {image} is missing ({why})")
