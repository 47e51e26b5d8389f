"""Layers compressed for a push: the blobs and the manifest a registry expects.

The store keeps built and imported layers as plain tar (their blob digest is their diff_id). A
push sends them compressed, as Docker does: gzip (the default) or zstd, each layer's compressed
blob stored once beside the plain one (``images/compressed/<gzip|zstd>/<diff_id hex>`` names it)
so every later push of that layer sends the same bytes under the same digest. The image config is
unchanged (its ``rootfs.diff_ids`` are the plain digests), so the image id stays the same; the
manifest is a new OCI manifest naming the compressed blobs (``…tar+gzip`` / ``…tar+zstd``), stored
and recorded as a pushed manifest of the image, so ``name@<that digest>`` resolves and ``prune``
keeps it. Layers that are compressed already go as they are.

Compression is made reproducible: gzip without a file name or time (``mtime=0``), zstd at a fixed
level, both streamed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import IO, Any

import zstandard

from runtime.image.registry.errors import RegistryError
from runtime.image.registry.media import (
    DOCKER_LAYER_GZIP,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Descriptor,
    ImageManifest,
)
from runtime.image.store import ImageStore

COMPRESSIONS = ("gzip", "zstd", "none")
PLAIN_LAYERS = (OCI_LAYER, "application/vnd.docker.image.rootfs.diff.tar")
_MEDIA = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}
_GZIP_LEVEL = 6     # gzip's own default: Docker's choice too
_ZSTD_LEVEL = 3     # zstd's default
_CHUNK = 1 << 20


def manifest_for_push(store: ImageStore, manifest: ImageManifest, body: bytes, compression: str,
                      ) -> tuple[ImageManifest, bytes]:
    """The manifest to push (and its bytes): ``body`` itself when no layer needs compressing."""
    if compression not in COMPRESSIONS:
        raise RegistryError(f"compression {compression!r}: want one of {', '.join(COMPRESSIONS)}")
    if compression == "none" or not any(layer.media_type in PLAIN_LAYERS for layer in manifest.layers):
        return manifest, body
    layers = [compressed_layer(store, layer, compression) if layer.media_type in PLAIN_LAYERS else layer
              for layer in manifest.layers]
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                "config": {**manifest.config.to_json(), "mediaType": OCI_CONFIG},
                                "layers": [_oci(layer).to_json() for layer in layers]}
    pushed = json.dumps(document, sort_keys=True).encode()
    return ImageManifest(OCI_MANIFEST, manifest.config, layers), pushed


def compressed_layer(store: ImageStore, layer: Descriptor, compression: str) -> Descriptor:
    """The layer's compressed blob, made once (the plain blob's digest is the layer's diff_id)."""
    record = store.root / "compressed" / compression / layer.digest.removeprefix("sha256:")
    try:
        digest = record.read_text().strip()
        if store.has_blob(digest):
            return Descriptor(_MEDIA[compression], digest, store.blob_path(digest).stat().st_size)
    except OSError:
        pass
    source = store.blob_path(layer.digest)
    with store.writing():
        digest = store.ingest(lambda out: _compress(source, out, compression))
        record.parent.mkdir(parents=True, exist_ok=True)
        temporary = record.with_name(f".{record.name}.tmp")
        temporary.write_text(digest)
        temporary.replace(record)
    return Descriptor(_MEDIA[compression], digest, store.blob_path(digest).stat().st_size)


def _compress(source: Path, out: IO[bytes], compression: str) -> None:
    with open(source, "rb") as plain:
        if compression == "gzip":
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=_GZIP_LEVEL, mtime=0) as packed:
                while chunk := plain.read(_CHUNK):
                    packed.write(chunk)
        else:
            compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL)
            compressor.copy_stream(plain, out, read_size=_CHUNK, write_size=_CHUNK)


def _oci(layer: Descriptor) -> Descriptor:
    if layer.media_type == DOCKER_LAYER_GZIP:
        return Descriptor(OCI_LAYER_GZIP, layer.digest, layer.size)
    return layer
