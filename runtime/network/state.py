"""The network state file of one instance: networks with their allocations, and published ports."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class StateFile:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "state.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """Read, let the caller change, write back atomically — all under an exclusive flock."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.read()
            yield state
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            try:
                tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
            except OSError:
                tmp.unlink(missing_ok=True)  # a full disk: the state stays as it was, no half file
                raise
            os.replace(tmp, self.path)

    def read(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            state = {}
        state.setdefault("networks", {})
        state.setdefault("ports", {})
        return state
