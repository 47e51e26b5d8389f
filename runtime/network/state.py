"""The network state of one instance: networks with their allocations, and published ports.

Kept as a base file (state.json) and a journal of the changes since (state.log, one JSON line
per change: the keys set and deleted), both under one flock. A connect adds one address to a
network that may hold hundreds; rewriting the whole file for it cost a parse and a dump that
grew with the fleet and a new inode each time (on ext4 without a journal, allocating an inode
skips every one freed in the last seconds: that scan was a third of the engine's CPU in an `up`
of 200). So a change is one `write()` appended to the journal, and the journal is folded into a
new base once it outgrows it. The process keeps what it read: a read that finds both files as
it left them parses nothing, one that finds the journal grown parses only the new lines.

Crash consistency: an append is one `write()` of one line, so a process that dies leaves it
whole or absent; a line cut short by the machine stopping is ignored and cut off by the next
writer. Folding writes the new base (atomically, by rename) before it empties the journal: lines
replayed again on top of a base that already holds them give the same state.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Path_ = tuple[str, ...]  # a key path into the nested state, e.g. ("networks", "web", "allocations")
FOLD_MIN_BYTES = 64 * 1024  # a journal is folded into the base once it is larger than this and the base


@dataclass
class _Seen:
    """The files as this process last read or wrote them, and the state they held then."""

    base: tuple[int, int, int]  # the base's inode, mtime (ns), size
    journal_ino: int
    journal_end: int  # where the last whole line ends
    state: dict[str, Any]
    # The journal's first line, a random header its writer put there: a journal deleted and made
    # again (the whole state removed meanwhile) is told from the one read even if the new file
    # has the old one's inode number and has grown as long.
    journal_head: bytes = b""


class StateFile:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "state.json"
        self.journal = directory / "state.log"
        self._seen: _Seen | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """Read, let the caller change, record the change — all under an exclusive flock.

        Nothing is written when the caller changed nothing (an `up` that finds its network made,
        an unpublish of keys already gone, a retried connect that keeps its address)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seen = self._load()
            state = _copy(seen.state)
            yield state
            sets: list[tuple[Path_, Any]] = []
            deletes: list[Path_] = []
            _diff(seen.state, state, (), sets, deletes)
            if not sets and not deletes:
                return
            self._seen = None  # until the change is on disk: a failed write leaves nothing cached
            line = json.dumps({"set": [[list(p), v] for p, v in sets], "del": [list(p) for p in deletes]},
                              sort_keys=True) + "\n"
            data, head = line.encode(), seen.journal_head
            if seen.journal_end + len(data) > max(FOLD_MIN_BYTES, seen.base[2]):
                self._seen = self._fold(state)
                return
            if not seen.journal_end:  # a new journal begins with its header
                head = (json.dumps({"journal": secrets.token_hex(8)}) + "\n").encode()
                data = head + data
            journal_ino = self._append(seen, data)
            self._seen = _Seen(seen.base, journal_ino, seen.journal_end + len(data), state, head)

    def read(self) -> dict[str, Any]:
        """The state now (under a shared flock). Shared with this object's cache: do not change it."""
        try:
            lock = open(self.directory / ".lock")  # closed below; absent: nothing was ever written
        except FileNotFoundError:
            return {"networks": {}, "ports": {}}
        with lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            return self._load().state

    def _load(self) -> _Seen:
        """The state, parsing only what changed since this process last looked (under the flock)."""
        base = _signature(self.path)
        try:
            journal_fd = os.open(self.journal, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            journal_fd = -1
        try:
            journal_ino, journal_size = (os.fstat(journal_fd).st_ino, os.fstat(journal_fd).st_size) \
                if journal_fd >= 0 else (0, 0)
            seen = self._seen
            if seen is not None and seen.base == base and seen.journal_ino == journal_ino \
                    and seen.journal_end <= journal_size \
                    and (not seen.journal_head
                         or os.pread(journal_fd, len(seen.journal_head), 0) == seen.journal_head):
                if seen.journal_end == journal_size:
                    return seen
                # another process appended: replayed on a copy (readers of this one may hold it)
                state, start, head = _copy(seen.state), seen.journal_end, seen.journal_head
            else:
                state, start, head = self._read_base(), 0, b""
            tail = os.pread(journal_fd, journal_size - start, start) if journal_fd >= 0 else b""
        finally:
            if journal_fd >= 0:
                os.close(journal_fd)
        end = start
        for raw in tail.splitlines(keepends=True):
            try:
                change = json.loads(raw) if raw.endswith(b"\n") else None
            except ValueError:
                change = None
            if not isinstance(change, dict):
                break  # a line cut short: it and anything after it never happened
            _replay(state, change)
            head = head or raw
            end += len(raw)
        self._seen = _Seen(base, journal_ino, end, state, head)
        return self._seen

    def _read_base(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            state = {}
        state.setdefault("networks", {})
        state.setdefault("ports", {})
        return state

    def _append(self, seen: _Seen, data: bytes) -> int:
        """One line where the journal's last whole line ends (a torn tail is overwritten and cut
        off); returns the journal's inode."""
        fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            ino = os.fstat(fd).st_ino
            if ino != seen.journal_ino and seen.journal_end:
                raise OSError(f"{self.journal} was replaced while its lock was held")
            try:
                rest, at = memoryview(data), seen.journal_end
                while rest:  # a filling disk takes part of a write; the next one says ENOSPC
                    written = os.pwrite(fd, rest, at)
                    if written == 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.journal))
                    rest, at = rest[written:], at + written
                os.ftruncate(fd, seen.journal_end + len(data))
            except OSError:
                os.ftruncate(fd, seen.journal_end)  # a full disk: the state stays as it was, no half line
                raise
        finally:
            os.close(fd)
        return ino

    def _fold(self, state: dict[str, Any]) -> _Seen:
        """A new base holding everything, then an empty journal (in that order: see the module)."""
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk: the state stays as it was, no half file
            raise
        os.replace(tmp, self.path)
        fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, 0)
            journal_ino = os.fstat(fd).st_ino
        finally:
            os.close(fd)
        return _Seen(_signature(self.path), journal_ino, 0, state)


def _signature(path: Path) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (0, 0, 0)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _copy(value: Any) -> Any:
    """A copy of the JSON-shaped state whose dicts and lists a caller may change in place."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _diff(old: dict[str, Any], new: dict[str, Any], at: Path_, sets: list[tuple[Path_, Any]],
          deletes: list[Path_]) -> None:
    """The keys to set and delete to turn ``old`` into ``new`` (dicts compared key by key)."""
    for key in old.keys() - new.keys():
        deletes.append((*at, key))
    for key, value in new.items():
        if key not in old:
            sets.append(((*at, key), value))
        elif old[key] != value:
            if isinstance(value, dict) and isinstance(old[key], dict):
                _diff(old[key], value, (*at, key), sets, deletes)
            else:
                sets.append(((*at, key), value))


def _replay(state: dict[str, Any], change: dict[str, Any]) -> None:
    for path in change.get("del", ()):
        parent = _parent(state, path)
        if parent is not None:
            parent.pop(path[-1], None)
    for path, value in change.get("set", ()):
        parent = _parent(state, path, make=True)
        if parent is not None:
            parent[path[-1]] = value


def _parent(state: dict[str, Any], path: list[str], make: bool = False) -> dict[str, Any] | None:
    node = state
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            if not make:
                return None
            child = node[key] = {}
        node = child
    return node
