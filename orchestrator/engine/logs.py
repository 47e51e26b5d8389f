"""Reading container logs for `pyorch logs`: many files, in time order, followed across restarts.

Following is by project and service, not by container, so replacements and restarts of a service
show up in the same stream (a thing Compose does not do). Every read streams: a source holds its
open files and at most ``tail`` records, never a whole file (issue 20: a 534 MB log once cost
1.36 GB here). A line the shim wrote as partial records (a read that ended mid-line) is joined
back into one record, stamped with the time its end arrived.
"""

from __future__ import annotations

import heapq
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from runtime.container.logfile import LogRecord, log_files, open_log, parse_line

MAX_LINE = 1 << 20  # a joined line is cut here: the rest starts a new record
FOLLOW_READ = 1 << 20  # bytes read from one source per poll while following
_BLOCK = 65536

Record = dict[str, str]


@dataclass(frozen=True)
class LogSource:
    container: str
    service: str
    path: Path
    key: str = ""  # the container id: a log that moved (archived on removal) stays the same source

    @property
    def identity(self) -> str:
        return self.key or str(self.path)


class _Joiner:
    """Partial records of one source joined per stream; a record comes out when its line ends."""

    def __init__(self, src: LogSource) -> None:
        self.src = src
        self.pending: dict[str, list[str]] = {}

    def feed(self, line: bytes) -> Record | None:
        text = line.decode(errors="replace").rstrip("\n")
        if not text:
            return None
        parsed = parse_line(text)
        if parsed is None:
            return self._record("", "stdout", text)
        parts = self.pending.get(parsed.stream)
        if parsed.partial:
            parts = self.pending.setdefault(parsed.stream, [])
            parts.append(parsed.text)
            if sum(map(len, parts)) < MAX_LINE:
                return None
        if parts is not None:
            del self.pending[parsed.stream]
            if not parsed.partial:
                parts.append(parsed.text)
            return self._record(parsed.time, parsed.stream, "".join(parts))
        return self._record(parsed.time, parsed.stream, parsed.text)

    def flush(self, now: str) -> list[Record]:
        """Lines still open, as they are (the end of the log, or a prompt waiting for input)."""
        out = [self._record(now, stream, "".join(parts)) for stream, parts in self.pending.items()]
        self.pending.clear()
        return out

    def _record(self, at: str, stream: str, text: str) -> Record:
        return {"container": self.src.container, "service": self.src.service, "stream": stream,
                "time": at, "text": text}


@dataclass
class _Reader:
    """One source's files, opened together (so rotation cannot move a file between listing and
    reading), and where following continues: the current file's end."""
    src: LogSource
    rotated: list[BinaryIO]
    current: BinaryIO | None
    inode: int = 0
    joiner: _Joiner = field(init=False)

    def __post_init__(self) -> None:
        self.joiner = _Joiner(self.src)

    @classmethod
    def open(cls, src: LogSource) -> _Reader:
        for _ in range(10):
            files = log_files(src.path)
            handles: list[BinaryIO] = []
            try:
                for file in files:
                    handles.append(open_log(file))
            except FileNotFoundError:  # rotated while we opened: list again
                for handle in handles:
                    handle.close()
                continue
            current = handles.pop() if files and files[-1] == src.path else None
            reader = cls(src, handles, current)
            if current is not None:
                reader.inode = os.fstat(current.fileno()).st_ino
            return reader
        return cls(src, [], None)

    def close(self) -> None:
        for handle in self.rotated:
            handle.close()
        self.rotated = []
        if self.current is not None:
            self.current.close()
            self.current = None

    # --- the first read ----------------------------------------------------------------------------
    def everything(self) -> Iterator[Record]:
        for handle in self.rotated:
            yield from self._join(handle)
            handle.close()
        self.rotated = []
        if self.current is not None:
            yield from self._join(_complete_lines(self.current))

    def last(self, count: int, final: bool) -> list[Record]:
        """The last ``count`` records; reads backwards, older files only when the newest falls short.
        ``final``: nothing follows, so a line still open counts as the newest record."""
        if count <= 0:
            self._skip_to_end()
            return []
        raw: list[bytes] = []
        if self.current is not None:
            raw = _last_lines(self.current, count)
        for handle in reversed(self.rotated):
            if _joined_count(raw) > count:
                break
            raw = list(deque(handle, maxlen=count)) + raw
        for handle in self.rotated:
            handle.close()
        self.rotated = []
        records = [r for r in map(self.joiner.feed, raw) if r is not None]
        if final:
            records += self.joiner.flush(_now())
        return records[-count:]

    def _skip_to_end(self) -> None:
        if self.current is not None:
            deque(_complete_lines(self.current), maxlen=0)

    def _join(self, lines: Iterable[bytes]) -> Iterator[Record]:
        for line in lines:
            record = self.joiner.feed(line)
            if record is not None:
                yield record

    # --- following ---------------------------------------------------------------------------------
    def new_records(self) -> list[Record]:
        """What was appended since the last read; the rest of a rotated-away file first."""
        if self.current is None:
            try:
                self.current = open(self.src.path, "rb")
                self.inode = os.fstat(self.current.fileno()).st_ino
            except FileNotFoundError:
                return []
        records = list(self._join(_complete_lines(self.current, FOLLOW_READ)))
        if self._rotated_away():
            records += self._join(_complete_lines(self.current))
            rest = self.current.read()  # a last line the shim never ended
            if rest:
                records += self._join([rest])
            self.current.close()
            self.current = None
            records += self.new_records()
        return records

    def _rotated_away(self) -> bool:
        try:
            return os.stat(self.src.path).st_ino != self.inode
        except FileNotFoundError:
            return False  # removed (or moved to the archive, where the same file lives on)


def _complete_lines(handle: BinaryIO, limit: int = -1) -> Iterator[bytes]:
    """Whole lines from the handle's position; an unfinished last line is left for later."""
    read = 0
    while limit < 0 or read < limit:
        start = handle.tell()
        line = handle.readline()
        if not line:
            return
        if not line.endswith(b"\n"):
            handle.seek(start)
            return
        read += len(line)
        yield line


def _last_lines(handle: BinaryIO, count: int) -> list[bytes]:
    """The last ``count`` whole records' lines (with the partial records joined into them), reading
    backwards in doubling blocks; the handle is left at the end of the last whole line."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    size, pos, data = _BLOCK, end, b""
    while pos > 0:
        pos = max(0, end - size)
        handle.seek(pos)
        data = handle.read(end - pos)
        complete = data.split(b"\n")[1:-1] if pos > 0 else data.split(b"\n")[:-1]
        if _joined_count([line + b"\n" for line in complete]) > count:
            break
        size *= 2
    complete_bytes = data[: data.rfind(b"\n") + 1] if b"\n" in data else b""
    handle.seek(pos + len(complete_bytes))
    lines = [line + b"\n" for line in complete_bytes.split(b"\n")[:-1]]
    if pos > 0:
        lines = lines[1:]  # the first may be the tail of a longer line
    return lines


def _is_whole(line: bytes) -> bool:
    """A full record (or a line that is no record at all), not a partial one."""
    parts = line.split(b" ", 3)
    return len(parts) < 3 or parts[2] != b"P"


def _joined_count(lines: list[bytes]) -> int:
    """How many records these lines make once partials are joined."""
    return sum(1 for line in lines if _is_whole(line))


def stream_logs(
    sources: Callable[[], list[LogSource]],
    follow: bool,
    tail: int,
    stopped: Callable[[], bool],
    poll_s: float = 0.1,
    idle: Callable[[], None] | None = None,
) -> Iterator[Record]:
    """Yield records as dicts in time order; with ``follow``, keep watching for new lines and new
    containers (read from their first line). ``tail`` < 0: everything. ``idle()`` runs whenever
    nothing more is ready for now (a caller that batches its output flushes there)."""
    readers: dict[str, _Reader] = {}
    try:
        first = [_Reader.open(src) for src in sources()]
        for reader in first:
            readers[reader.src.identity] = reader
        if tail < 0:
            streams = [reader.everything() for reader in first]
        else:
            streams = [iter(reader.last(tail, final=not follow)) for reader in first]
        yield from heapq.merge(*streams, key=_time)
        if not follow:
            now = _now()
            yield from sorted((r for reader in first for r in reader.joiner.flush(now)), key=_time)
            return
        while not stopped():
            if idle is not None:
                idle()
            time.sleep(poll_s)
            batch: list[Record] = []
            for src in sources():
                known = readers.get(src.identity)
                if known is None:
                    reader = readers[src.identity] = _Reader.open(src)
                    batch += reader.everything()
                    continue
                reader = known
                reader.src = src  # an archived log keeps its reader (same open file)
                fresh = reader.new_records()
                if not fresh and reader.joiner.pending:  # a line left open (a prompt): show it now
                    fresh = reader.joiner.flush(_now())
                batch += fresh
            batch.sort(key=_time)
            yield from batch
        now = _now()
        yield from sorted((r for reader in readers.values() for r in reader.joiner.flush(now)), key=_time)
    finally:
        for reader in readers.values():
            reader.close()


def _time(record: Record) -> str:
    return record["time"]


def _now() -> str:
    from runtime.container.logfile import timestamp

    return timestamp()


__all__ = ["LogRecord", "LogSource", "stream_logs"]
