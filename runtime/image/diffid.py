"""A layer blob read as its uncompressed tar stream, hashed on the way: the layer's diff_id.

Registries and archives name layers by the digest of the compressed blob; an image config names
them by the digest of the uncompressed tar (``rootfs.diff_ids``). Unpacking through this reader
checks the second without a separate decompression pass.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
from typing import IO, Any, cast

from runtime.image.errors import ImageError

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20


class DiffIdReader(io.RawIOBase):
    """Uncompressed bytes of a plain, gzip or zstd layer blob; `digest` once everything was read."""

    def __init__(self, blob: IO[bytes]) -> None:
        super().__init__()
        buffered: Any = blob if isinstance(blob, io.BufferedReader) else io.BufferedReader(cast(Any, blob))
        head = buffered.peek(4)[:4]
        self._source: Any
        if head[:2] == _GZIP_MAGIC:
            self._source = gzip.GzipFile(fileobj=buffered)
        elif head == _ZSTD_MAGIC:
            try:
                zstandard: Any = importlib.import_module("zstandard")
            except ImportError:
                raise ImageError("layer is zstd-compressed and the module 'zstandard' is not installed") from None
            self._source = zstandard.ZstdDecompressor().stream_reader(buffered)
        else:
            self._source = buffered
        self._hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        try:
            data = self._source.read(len(view))
        except (OSError, EOFError) as exc:
            raise ImageError(f"layer blob is not valid compressed data: {exc}") from exc
        self._hash.update(data)
        view[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read what the tar reader left (the end-of-archive blocks, padding) so the hash covers it."""
        while self.read(_CHUNK):
            pass

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


def diff_id_of(blob: IO[bytes]) -> str:
    reader = DiffIdReader(blob)
    reader.drain()
    return reader.digest()
