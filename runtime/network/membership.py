"""Which backends of a published port take new connections (pure; the manager applies it).

A key's state entry holds every backend the engine published and, apart, those being drained.
A draining backend is left out of the load-balancing map, so it gets no new connection, while
conntrack keeps the NAT mapping of the connections it already has until they end. The engine's
periodic `publish` replaces the backend list but keeps the drain marks of backends still in it,
so a pass of the reconcile loop never puts a draining replica back into rotation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Membership:
    """A published key's backends: those taking new connections, and those draining."""

    active: tuple[str, ...]
    draining: tuple[str, ...]


def active_backends(entry: dict[str, Any]) -> tuple[str, ...]:
    draining = set(entry.get("draining", []))
    return tuple(ip for ip in entry["backends"] if ip not in draining)


def membership_of(entry: dict[str, Any]) -> Membership:
    return Membership(active_backends(entry), tuple(ip for ip in entry["backends"]
                                                    if ip in set(entry.get("draining", []))))


def replaced(old: dict[str, Any] | None, bindings: list[dict[str, Any]], backends: list[str]) -> dict[str, Any]:
    """The entry after a full `publish`: drain marks survive for backends that are still listed."""
    kept = [ip for ip in (old or {}).get("draining", []) if ip in backends]
    return {"bindings": bindings, "backends": list(backends), "draining": kept}


def with_added(entry: dict[str, Any], ip: str) -> dict[str, Any]:
    """The backend takes new connections (added, or back from draining)."""
    backends = entry["backends"] if ip in entry["backends"] else [*entry["backends"], ip]
    return {**entry, "backends": backends, "draining": [d for d in entry.get("draining", []) if d != ip]}


def with_drained(entry: dict[str, Any], ip: str) -> dict[str, Any]:
    """No new connection for the backend; its established ones continue."""
    if ip not in entry["backends"]:
        return entry
    draining = entry.get("draining", [])
    return {**entry, "draining": draining if ip in draining else [*draining, ip]}


def with_removed(entry: dict[str, Any], ip: str) -> dict[str, Any]:
    """The backend is forgotten (a later full publish may list it again)."""
    return {**entry, "backends": [b for b in entry["backends"] if b != ip],
            "draining": [d for d in entry.get("draining", []) if d != ip]}
