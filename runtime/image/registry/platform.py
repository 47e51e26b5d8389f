"""Platforms (``linux/amd64``, ``linux/arm64/v8``) and picking one manifest from an index (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from runtime.image.registry.errors import PlatformNotFound
from runtime.image.registry.media import Descriptor, ImageIndex

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm",
                 "i386": "386", "i686": "386"}
_DEFAULT_VARIANT = {"arm64": "v8"}


class InvalidPlatform(ValueError):
    """A platform string that is not os[/arch[/variant]]."""


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def parse_platform(text: str) -> Platform:
    """``linux/amd64``, ``linux/arm64/v8``, ``linux/arm/v7``; architecture aliases are normalised."""
    parts = text.strip().lower().split("/")
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise InvalidPlatform(f"invalid platform {text!r}: want os/arch[/variant], e.g. linux/amd64")
    os_name = parts[0]
    arch = _ARCH_ALIASES.get(parts[1], parts[1]) if len(parts) > 1 else host_platform().architecture
    variant = parts[2] if len(parts) > 2 else ""
    return Platform(os_name, arch, variant)


def host_platform() -> Platform:
    machine = os.uname().machine
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = "v7" if machine.startswith("armv7") else ""
    return Platform("linux", arch, variant)


def _matches(want: Platform, entry: dict[str, object]) -> bool:
    if entry.get("os") != want.os:
        return False
    arch = str(entry.get("architecture", ""))
    if _ARCH_ALIASES.get(arch, arch) != want.architecture:
        return False
    if not want.variant:
        return True
    variant = str(entry.get("variant", "") or _DEFAULT_VARIANT.get(arch, ""))
    return variant == want.variant


def select_manifest(index: ImageIndex, want: Platform) -> Descriptor:
    """The first entry for ``want``, as containerd does; attestation manifests (unknown/unknown) never match.

    Without a variant in ``want`` the first entry of that os/architecture wins; for arm64 an entry
    without a variant counts as v8.
    """
    for entry in index.manifests:
        if entry.platform is not None and _matches(want, entry.platform):
            return entry
    offered = sorted({str(Platform(str(e.platform.get("os", "?")), str(e.platform.get("architecture", "?")),
                                   str(e.platform.get("variant", "") or "")))
                      for e in index.manifests if e.platform})
    raise PlatformNotFound(f"no manifest for platform {want} in the index (it offers: "
                           f"{', '.join(offered) or 'no platforms'})")
