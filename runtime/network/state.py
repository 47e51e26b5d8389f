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
        """Read, let the caller change, write back atomically — all under an exclusive flock.

        Nothing is written when the caller changed nothing (an `up` that finds its network made,
        an unpublish of keys already gone, a retried connect that keeps its address)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            text, state = self._load()
            yield state
            new_text = json.dumps(state, indent=1, sort_keys=True)
            if new_text == text:
                return
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            try:
                tmp.write_text(new_text)
            except OSError:
                tmp.unlink(missing_ok=True)  # a full disk: the state stays as it was, no half file
                raise
            os.replace(tmp, self.path)

    def read(self) -> dict[str, Any]:
        return self._load()[1]

    def _load(self) -> tuple[str | None, dict[str, Any]]:
        """The file's text as read (None when there is none yet) and the state it holds."""
        try:
            text: str | None = self.path.read_text()
        except FileNotFoundError:
            text = None
        state: dict[str, Any] = json.loads(text) if text is not None else {}
        state.setdefault("networks", {})
        state.setdefault("ports", {})
        return text, state
