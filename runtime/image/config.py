"""The parts of an OCI/Docker image config that shape a container."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    @classmethod
    def from_oci(cls, config: dict[str, Any] | None) -> ImageConfig:
        c = config or {}
        return cls(
            env=list(c.get("Env") or []),
            entrypoint=list(c["Entrypoint"]) if c.get("Entrypoint") else None,
            cmd=list(c["Cmd"]) if c.get("Cmd") else None,
            working_dir=c.get("WorkingDir") or "",
            user=c.get("User") or "",
            exposed_ports=sorted(c.get("ExposedPorts") or {}),
            labels=dict(c.get("Labels") or {}),
            stop_signal=c.get("StopSignal") or None,
            volumes=sorted(c.get("Volumes") or {}),
            healthcheck=dict(c["Healthcheck"]) if c.get("Healthcheck") else None,
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
        return out
