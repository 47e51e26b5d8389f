"""The layer cache, keyed like Docker's classic builder.

Each step's key is ``sha256(parent key, the step as expanded)``: the parent chain starts at the
base image id, and metadata steps (ENV, USER, …) extend it without making layers, so any change
upstream changes every key below it. RUN keys carry the command and the build arguments it sees;
COPY/ADD keys carry the content hash of their sources (`sources.fingerprint`), so editing a copied
file misses the cache while touching its mtime does not. An entry is the layer a step made; it
only counts while the store still has the layer's blob and unpacked directory (`image prune`
may have taken them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runtime.image.store import ImageStore, Layer


def chain(parent: str, step: str) -> str:
    return hashlib.sha256(f"{parent}\n{step}".encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """What a step made: a layer, or none (a RUN that changed nothing)."""

    layer: Layer | None


class BuildCache:
    def __init__(self, store: ImageStore) -> None:
        self.store = store
        self.dir = store.root / "build-cache"

    def get(self, key: str) -> CacheEntry | None:
        try:
            data = json.loads((self.dir / key).read_text())
            if data.get("empty"):
                return CacheEntry(None)
            layer = Layer(str(data["blob_digest"]), str(data["diff_id"]), int(data["size"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if not self.store.has_blob(layer.blob_digest) or not self.store.layer_dir(layer.diff_id).is_dir():
            return None
        return CacheEntry(layer)

    def put(self, key: str, entry: CacheEntry) -> None:
        layer = entry.layer
        record = ({"empty": True} if layer is None else
                  {"blob_digest": layer.blob_digest, "diff_id": layer.diff_id, "size": layer.size})
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f)
            os.replace(tmp, self.dir / key)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise

    def prune(self) -> int:
        """Forget every entry (`builder prune`); the layers go with the next image prune if unused."""
        removed = 0
        if self.dir.is_dir():
            for entry in self.dir.iterdir():
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed += 1
        return removed
