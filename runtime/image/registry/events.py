"""Progress events of pulls and pushes, for the CLI's progress bars (plain data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TransferEvent:
    """``status`` is one of: resolved, waiting, exists, downloading, verifying, unpacking, done,
    uploading, pushed; ``current``/``total`` count bytes of the blob ``blob`` (empty for the image)."""

    status: str
    blob: str = ""
    current: int = 0
    total: int = 0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Listener = Callable[[TransferEvent], None]


def ignore(_event: TransferEvent) -> None:
    """The listener of callers that show no progress."""
