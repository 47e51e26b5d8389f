"""The labels pyorch puts on containers, and the typed record they are parsed into once per read.

Compose's own labels (`com.docker.compose.*`) say which project, service and replica number a
container is, and with which configuration it was made; a one-off `run` container carries its
project under pyorch's own label instead, so nothing that counts replicas ever counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runtime.container.state import ContainerInfo

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_HASH = "com.docker.compose.config-hash"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_SLUG = "com.docker.compose.slug"
LABEL_REVISION = "io.pyorch.revision"
LABEL_ONEOFF_PROJECT = "io.pyorch.oneoff-project"
# The container whose network namespace this one joined (`network_mode: service:X`/`container:X`),
# as Compose HEAD hashes the resolved `container:<id>`: when it is gone, the joiner is outdated.
LABEL_NETWORK_PARENT = "io.pyorch.network-parent"


def number_of(labels: Mapping[str, str]) -> int:
    """The replica number label as an int (0 when it is missing or not a number)."""
    text = labels.get(LABEL_NUMBER, "0") or "0"
    return int(text) if text.isdigit() else 0


@dataclass(frozen=True)
class Labelled:
    """One observed container with its labels parsed: what every engine step asks of it."""

    info: ContainerInfo
    project: str            # "" when not a replica of a Compose project
    service: str
    number: int
    config_hash: str
    oneoff_project: str     # the project of a one-off `run` container, else ""

    @classmethod
    def of(cls, info: ContainerInfo) -> Labelled:
        labels = info.labels
        return cls(info, labels.get(LABEL_PROJECT, ""), labels.get(LABEL_SERVICE, ""), number_of(labels),
                   labels.get(LABEL_HASH, ""), labels.get(LABEL_ONEOFF_PROJECT, ""))

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def started_at(self) -> float:
        return self.info.record.started_at
