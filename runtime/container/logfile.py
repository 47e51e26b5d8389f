"""Container logs in the k8s-file format conmon writes: ``<RFC3339Nano> <stream> <F|P> <bytes>``.

One record per line; ``P`` marks a partial line (the read ended without a newline). The same format
is read back by `pyorch logs`, so it lives next to its parser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


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
