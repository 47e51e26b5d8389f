"""Length-prefixed frames: the one wire format of the shim's binary channels.

Used between the shim and the processes that set a container up (sync.py) and between the shim
and an attached client (session.py). A frame is a kind (one byte), the payload's length (four
bytes, big-endian) and the payload. Standard library only (the shim and container children
import it).
"""

from __future__ import annotations

import struct

HEADER = struct.Struct("!cI")
MAX_PAYLOAD = 64 << 20  # a spec with a huge environment fits; a corrupt length does not


class FrameError(ValueError):
    """The peer sent something that is not a frame."""


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class Decoder:
    """Bytes in, whole frames out; a frame split across reads waits for its rest."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buf += data
        frames: list[tuple[bytes, bytes]] = []
        while len(self._buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf)
            if length > MAX_PAYLOAD:
                raise FrameError(f"frame of {length} bytes")
            end = HEADER.size + length
            if len(self._buf) < end:
                break
            frames.append((kind, bytes(self._buf[HEADER.size:end])))
            del self._buf[:end]
        return frames

    def pending(self) -> int:
        """Bytes held back (part of a frame)."""
        return len(self._buf)
