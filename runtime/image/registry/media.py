"""Manifests and indexes, Docker schema 2 and OCI, parsed into plain dataclasses (pure).

A registry may answer with four JSON documents: an image manifest (Docker schema 2 or OCI) that
names a config blob and layer blobs, or a list of such manifests per platform (a Docker manifest
list or an OCI index). Docker schema 1 (signed, v1 compatibility) is refused: registries have not
served it by default for years and it carries no config blob.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from runtime.image.registry.errors import UnsupportedManifest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")

IMAGE_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_LIST)
LAYER_TYPES = (OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER_GZIP, DOCKER_LAYER_FOREIGN,
               "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
# What pull asks for, best first: the registry picks from these.
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_MAX_LAYERS = 500


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: media type, digest, size (and a platform inside an index)."""

    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: list[Descriptor]


@dataclass(frozen=True)
class ImageIndex:
    media_type: str
    manifests: list[Descriptor]


def parse_manifest(data: bytes, content_type: str = "") -> ImageManifest | ImageIndex:
    """Parse a manifest or an index; the JSON ``mediaType`` wins over the HTTP content type."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise UnsupportedManifest(f"manifest is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UnsupportedManifest("manifest is not a JSON object")
    media_type = doc.get("mediaType") or content_type.split(";")[0].strip()
    if media_type in SCHEMA1 or doc.get("schemaVersion") == 1:
        raise UnsupportedManifest("Docker schema 1 manifests are not supported (re-push the image with a "
                                  "current client)")
    if doc.get("schemaVersion") != 2:
        raise UnsupportedManifest(f"manifest schemaVersion {doc.get('schemaVersion')!r}: want 2")
    if not media_type:  # OCI allows leaving it out: the shape tells
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media_type in INDEXES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise UnsupportedManifest(f"{media_type} without a 'manifests' list")
        return ImageIndex(media_type, [_descriptor(e, "manifests[]") for e in entries])
    if media_type in IMAGE_MANIFESTS:
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise UnsupportedManifest("image manifest without a 'layers' list")
        if len(layers) > _MAX_LAYERS:
            raise UnsupportedManifest(f"image manifest has {len(layers)} layers (at most {_MAX_LAYERS})")
        config = _descriptor(doc.get("config"), "config")
        if config.media_type not in (OCI_CONFIG, DOCKER_CONFIG):
            raise UnsupportedManifest(f"config media type {config.media_type!r} is not an image config "
                                      "(an OCI artifact, not a container image?)")
        parsed = [_descriptor(layer, "layers[]") for layer in layers]
        for layer in parsed:
            if layer.media_type not in LAYER_TYPES:
                raise UnsupportedManifest(f"layer {layer.digest} has unsupported media type {layer.media_type!r}")
        return ImageManifest(media_type, config, parsed)
    raise UnsupportedManifest(f"unsupported manifest media type {media_type!r}")


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise UnsupportedManifest(f"manifest {where} is not an object")
    digest, size, media_type = value.get("digest"), value.get("size"), value.get("mediaType")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise UnsupportedManifest(f"manifest {where} has digest {digest!r}: want sha256:<64 hex digits>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UnsupportedManifest(f"manifest {where} has an invalid size {size!r}")
    if not isinstance(media_type, str):
        raise UnsupportedManifest(f"manifest {where} has no mediaType")
    platform = value.get("platform")
    annotations = value.get("annotations") or {}
    return Descriptor(media_type, digest, size, platform if isinstance(platform, dict) else None,
                      {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {})


def layer_media_type(head: bytes) -> str:
    """The OCI layer media type for a blob that starts with ``head`` (its compression by magic)."""
    if head[:2] == b"\x1f\x8b":
        return OCI_LAYER_GZIP
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return OCI_LAYER_ZSTD
    return OCI_LAYER
