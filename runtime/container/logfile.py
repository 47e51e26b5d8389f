"""Container logs in the k8s-file format conmon writes: ``<RFC3339Nano> <stream> <F|P> <bytes>``.

One record per line; ``P`` marks a partial line (the read ended without a newline), joined back
by the reader. The shim writes this format (shim_logs.py) and `pyorch logs` reads it, so the
format, the names of rotated files and how to read them live here, together.

Rotation (Docker's json-file and local drivers): when the current file would pass ``max-size``
it becomes ``ctr.log.1`` (``ctr.log.1.gz`` once compressed), the older ones move up by one, and
the oldest beyond ``max-file`` files in all is deleted.
"""

from __future__ import annotations

import gzip
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

LOG_NAME = "ctr.log"
_ROTATED = re.compile(r"\.(\d+)(\.gz)?$")


def timestamp(now_ns: int | None = None) -> str:
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}+00:00"


def encode_records(stream: str, chunk: bytes, now_ns: int | None = None) -> bytes:
    """Turn one read of a container's stdout/stderr into log records."""
    stamp = timestamp(now_ns).encode()
    out = bytearray()
    lines = chunk.split(b"\n")
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if last and not line:
            break
        flag = b"P" if last else b"F"
        out += stamp + b" " + stream.encode() + b" " + flag + b" " + line + b"\n"
    return bytes(out)


@dataclass(frozen=True)
class LogRecord:
    time: str
    stream: str
    partial: bool
    text: str


def parse_line(line: str) -> LogRecord | None:
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 3:
        return None
    text = parts[3] if len(parts) == 4 else ""
    return LogRecord(time=parts[0], stream=parts[1], partial=parts[2] == "P", text=text)


# --- rotated files ----------------------------------------------------------------------------------

def rotated_path(path: str, index: int, compressed: bool = False) -> str:
    return f"{path}.{index}" + (".gz" if compressed else "")


def log_files(path: Path) -> list[Path]:
    """A log and its rotated files, oldest first (``ctr.log.3.gz``, ``ctr.log.2``, …, ``ctr.log``);
    a file being compressed is listed once, under the name that exists."""
    indexed: dict[int, Path] = {}
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    for name in names:
        if not name.startswith(path.name + "."):
            continue
        match = _ROTATED.fullmatch(name[len(path.name):])
        if match is None:
            continue
        index = int(match.group(1))
        if index not in indexed or not match.group(2):  # the plain file while its .gz is being written
            indexed[index] = path.parent / name
    ordered = [indexed[i] for i in sorted(indexed, reverse=True)]
    if path.exists():
        ordered.append(path)
    return ordered


def open_log(path: Path) -> BinaryIO:
    """A log file for reading, decompressed if it is a rotated ``.gz``; a plain rotated file that
    was compressed meanwhile is opened under its new name."""
    try:
        if path.name.endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except FileNotFoundError:
        if path.name != LOG_NAME and not path.name.endswith(".gz") and _ROTATED.search(path.name):
            return gzip.open(str(path) + ".gz", "rb")  # type: ignore[return-value]
        raise


def log_size(path: Path) -> int:
    """Bytes on disk of a log and its rotated files."""
    total = 0
    for file in log_files(path):
        try:
            total += file.stat().st_size
        except FileNotFoundError:
            pass
    return total


def iter_lines(path: Path) -> Iterator[bytes]:
    """Every line of every file of a log, oldest first, a line at a time."""
    for file in log_files(path):
        try:
            with open_log(file) as f:
                yield from f
        except FileNotFoundError:  # rotated away while we listed
            continue
