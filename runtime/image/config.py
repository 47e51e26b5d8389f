"""The parts of an OCI/Docker image config that shape a container.

`ImageConfig.from_oci` reads the ``config`` object of an image config blob (Docker and OCI use
the same capitalised keys: ``Env``, ``Entrypoint``, ``Cmd``, ``WorkingDir``, ``User``,
``ExposedPorts``, ``Labels``, ``StopSignal``, ``Volumes``, ``Healthcheck``, and Docker's ``Shell`` and
``OnBuild``, which builds read); `to_oci` writes it back.
A null and an empty list differ for ``Entrypoint``/``Cmd`` (an empty one clears the inherited value),
so both survive a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.image.errors import ImageError


class InvalidImageConfig(ImageError):
    """An image config has a field of the wrong shape."""


@dataclass(frozen=True)
class ImageConfig:
    env: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    working_dir: str = ""
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    volumes: list[str] = field(default_factory=list)
    healthcheck: dict[str, Any] | None = None
    shell: list[str] | None = None       # SHELL of the Dockerfile that made it; builds FROM it inherit it
    on_build: list[str] = field(default_factory=list)  # ONBUILD triggers, run by builds FROM it

    @classmethod
    def from_oci(cls, config: dict[str, Any] | None) -> ImageConfig:
        c = config or {}
        if not isinstance(c, dict):
            raise InvalidImageConfig(f"image config must be an object, not {type(c).__name__}")
        healthcheck = c.get("Healthcheck")
        if healthcheck is not None and not isinstance(healthcheck, dict):
            raise InvalidImageConfig("image config Healthcheck must be an object")
        return cls(
            env=_strings(c, "Env") or [],
            entrypoint=_strings(c, "Entrypoint"),
            cmd=_strings(c, "Cmd"),
            working_dir=_string(c, "WorkingDir") or "",
            user=_string(c, "User") or "",
            exposed_ports=sorted(_keys(c, "ExposedPorts")),
            labels=_labels(c),
            stop_signal=_string(c, "StopSignal") or None,
            volumes=sorted(_keys(c, "Volumes")),
            healthcheck=dict(healthcheck) if healthcheck else None,
            shell=_strings(c, "Shell") or None,
            on_build=_strings(c, "OnBuild") or [],
        )

    def to_oci(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Env": list(self.env)}
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.healthcheck:
            out["Healthcheck"] = dict(self.healthcheck)
        if self.shell:
            out["Shell"] = list(self.shell)
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        return out


def _string(c: dict[str, Any], key: str) -> str | None:
    value = c.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidImageConfig(f"image config {key} must be a string, not {type(value).__name__}")


def _strings(c: dict[str, Any], key: str) -> list[str] | None:
    value = c.get(key)
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidImageConfig(f"image config {key} must be a list of strings")


def _keys(c: dict[str, Any], key: str) -> list[str]:
    """``ExposedPorts``/``Volumes`` are sets encoded as objects with empty values."""
    value = c.get(key)
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(k) for k in value]
    raise InvalidImageConfig(f"image config {key} must be an object")


def _labels(c: dict[str, Any]) -> dict[str, str]:
    value = c.get("Labels")
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    raise InvalidImageConfig("image config Labels must map strings to strings")
