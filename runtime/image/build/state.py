"""What a build knows about a stage between two instructions (plain data)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from runtime.image.build.metadata import StageConfig
from runtime.image.build.parser import Instruction
from runtime.image.build.progress import Progress, Vertex
from runtime.image.build.stages import Stage
from runtime.image.store import Layer

HISTORY_COMMENT = "pyorch.dockerfile.v0"
LAYER_STEPS = frozenset({"RUN", "COPY", "ADD", "WORKDIR"})  # the steps shown as vertices, as BuildKit


@dataclass(frozen=True)
class StageState:
    layers: tuple[Layer, ...]
    config: StageConfig
    key: str                                  # the cache chain so far
    exact: bool = True                        # the layers are the stage's files (the check pass makes none)
    history: tuple[dict[str, Any], ...] = ()  # the image config's history entries so far

    def with_step(self, created_by: str, layer: Layer | None, key: str, config: StageConfig | None = None,
                  ) -> StageState:
        """After one instruction: its layer (if it made one), its history entry, the new key."""
        entry: dict[str, Any] = {"created_by": created_by, "comment": HISTORY_COMMENT}
        if layer is None:
            entry["empty_layer"] = True
        layers = self.layers if layer is None else (*self.layers, layer)
        return dataclasses.replace(self, layers=layers, key=key, config=config or self.config,
                                   history=(*self.history, entry))


@dataclass
class StageCursor:
    """Where a stage's build is: its label in progress lines and the position of its next step."""

    stage: Stage
    label: str                                # "build", "stage-1", or "" for a one-stage Dockerfile
    total: int                                # FROM plus the layer steps (ONBUILD triggers included)
    position: int = 0
    triggers: list[Instruction] = field(default_factory=list)

    def vertex(self, progress: Progress, text: str) -> Vertex:
        self.position += 1
        return progress.step(self.label, self.position, self.total, text, self.label or f"stage-{self.stage.index}")
