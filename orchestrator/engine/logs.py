"""Reading container logs for `pyorch logs`: many files, in time order, followed across restarts.

Following is by project and service, not by container, so replacements and restarts of a service
show up in the same stream (a thing Compose does not do).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runtime.container.logfile import parse_line


@dataclass(frozen=True)
class LogSource:
    container: str
    service: str
    path: Path


def tail_lines(path: Path, count: int) -> tuple[list[str], int]:
    """The last ``count`` lines of a file and the offset where reading should continue."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            if count < 0:
                f.seek(0)
                return f.read().decode(errors="replace").splitlines(), end
            block, data = 8192, b""
            pos = end
            while pos > 0 and data.count(b"\n") <= count:
                pos = max(0, pos - block)
                f.seek(pos)
                data = f.read(end - pos)
            lines = data.decode(errors="replace").splitlines()
            return lines[-count:] if count else [], end
    except FileNotFoundError:
        return [], 0


def stream_logs(
    sources: Callable[[], list[LogSource]],
    follow: bool,
    tail: int,
    stopped: Callable[[], bool],
    poll_s: float = 0.1,
) -> Iterator[dict[str, str]]:
    """Yield records as dicts; with ``follow``, keep watching for new lines and new containers."""
    offsets: dict[Path, int] = {}
    first = True
    while True:
        batch: list[tuple[str, dict[str, str]]] = []
        for src in sources():
            if src.path not in offsets:
                # Containers that appear while following are read from their first line.
                lines, end = tail_lines(src.path, tail if first else -1)
                offsets[src.path] = end
                batch += [_record(src, line) for line in lines if line]
                continue
            try:
                with open(src.path, "rb") as f:
                    f.seek(offsets[src.path])
                    data = f.read()
            except FileNotFoundError:
                continue
            complete = data[: data.rfind(b"\n") + 1]
            offsets[src.path] += len(complete)
            batch += [_record(src, line) for line in complete.decode(errors="replace").splitlines() if line]
        first = False
        batch.sort(key=lambda item: item[0])
        for _, record in batch:
            yield record
        if not follow or stopped():
            return
        time.sleep(poll_s)


def _record(src: LogSource, line: str) -> tuple[str, dict[str, str]]:
    parsed = parse_line(line)
    if parsed is None:
        return "", {"container": src.container, "service": src.service, "stream": "stdout", "time": "",
                    "text": line}
    return parsed.time, {"container": src.container, "service": src.service, "stream": parsed.stream,
                         "time": parsed.time, "text": parsed.text}
