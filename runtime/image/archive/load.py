"""`pyorch load`: images from an OCI layout (directory or tar) or a docker-archive tarball.

An OCI ``index.json`` is preferred when present (it keeps manifest digests exactly); otherwise the
docker-archive ``manifest.json`` is read and an OCI manifest is written for each image, keeping its
config (so its image id) and layer blobs as they are. Every blob is hashed while it is copied into
the store and refused if it does not match its digest; uncompressed docker-archive layers must hash
to the config's diff_ids. Nested indexes are followed to the entry for this host's platform.
"""

from __future__ import annotations

import json
from typing import IO, Any

from runtime.image.archive.errors import ArchiveError
from runtime.image.archive.save import NAME_ANNOTATION, REF_ANNOTATION
from runtime.image.archive.sources import ArchiveSource, open_source
from runtime.image.diffid import diff_id_of
from runtime.image.reference import InvalidReference, normalize, parse
from runtime.image.registry.errors import RegistryError
from runtime.image.registry.media import (
    OCI_CONFIG,
    OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    layer_media_type,
    parse_manifest,
)
from runtime.image.registry.platform import host_platform, select_manifest
from runtime.image.store import ImageStore

_CHUNK = 1 << 20
_MAX_JSON = 16 << 20


def load_images(store: ImageStore, path: Any, repository: str | None = None) -> list[tuple[str, str | None]]:
    """Load every image in ``path``; returns ``(image id, reference or None)`` pairs.

    A layout entry named only by a tag (skopeo's ``oci:dir:tag``) is stored as ``repository:tag``
    when ``repository`` is given, else untagged (its id is reported).
    """
    if repository is not None:
        parse(repository)  # refuse a malformed name before reading anything
    source = open_source(path)
    try:
        with store.writing():
            if source.exists("index.json"):
                return _load_oci(store, source, repository)
            if source.exists("manifest.json"):
                return _load_docker(store, source)
            raise ArchiveError(f"{path} has neither index.json (OCI layout) nor manifest.json (docker-archive)")
    finally:
        source.close()


def _read_json(source: ArchiveSource, name: str) -> Any:
    with source.open(name) as f:
        data = f.read(_MAX_JSON + 1)
    if len(data) > _MAX_JSON:
        raise ArchiveError(f"{name} is larger than {_MAX_JSON} bytes")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ArchiveError(f"{name} is not valid JSON: {exc}") from None


def _copy_blob(store: ImageStore, source: ArchiveSource, name: str, expected: str | None) -> str:
    """Copy one file into the store's blobs, hashed on the way; ``expected`` must match when given."""
    if expected and store.has_blob(expected):
        return expected
    with source.open(name) as f:
        digest = store.ingest(lambda out: _pump(f, out))
    if expected and digest != expected:
        raise ArchiveError(f"{name} hashes to {digest}, not {expected}: the archive is corrupt")
    return digest


def _pump(src: IO[bytes], out: Any) -> None:
    while chunk := src.read(_CHUNK):
        out.write(chunk)


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")


# --- OCI layout ------------------------------------------------------------------------------------------

def _load_oci(store: ImageStore, source: ArchiveSource, repository: str | None) -> list[tuple[str, str | None]]:
    if source.exists("oci-layout"):
        version = _read_json(source, "oci-layout").get("imageLayoutVersion")
        if version != "1.0.0":
            raise ArchiveError(f"unsupported OCI layout version {version!r}")
    index_bytes = json.dumps(_read_json(source, "index.json")).encode()
    try:
        index = parse_manifest(index_bytes, "application/vnd.oci.image.index.v1+json")
    except RegistryError as exc:
        raise ArchiveError(f"index.json: {exc}") from None
    if not isinstance(index, ImageIndex):
        raise ArchiveError("index.json is not an image index")
    loaded: list[tuple[str, str | None]] = []
    for entry in index.manifests:
        manifest_digest = _resolve_nested(store, source, entry.digest, entry.media_type)
        reference = _reference_of(entry.annotations, repository)
        image = store.record_image(manifest_digest, reference)
        loaded.append((image.id, normalize(reference) if reference else None))
    return loaded


def _resolve_nested(store: ImageStore, source: ArchiveSource, digest: str, media_type: str) -> str:
    """Copy the manifest ``digest`` names and its blobs; an index is followed to this host's platform."""
    for _ in range(4):
        manifest_digest = _copy_blob(store, source, _blob_name(digest), digest)
        try:
            parsed = parse_manifest(store.blob_path(manifest_digest).read_bytes(), media_type)
        except RegistryError as exc:
            raise ArchiveError(f"manifest {digest}: {exc}") from None
        if isinstance(parsed, ImageManifest):
            for blob in [parsed.config, *parsed.layers]:
                _copy_blob(store, source, _blob_name(blob.digest), blob.digest)
            return manifest_digest
        chosen = select_manifest(parsed, host_platform())
        digest, media_type = chosen.digest, chosen.media_type
    raise ArchiveError("indexes nested more than four deep")


def _reference_of(annotations: dict[str, str], repository: str | None) -> str | None:
    full = annotations.get(NAME_ANNOTATION)
    if full:
        return full
    name = annotations.get(REF_ANNOTATION, "")
    if not name:
        return None
    if "/" in name or ":" in name:  # some tools put the whole reference here
        try:
            return normalize(name)
        except InvalidReference:
            return None
    return f"{repository}:{name}" if repository else None


# --- docker-archive --------------------------------------------------------------------------------------

def _load_docker(store: ImageStore, source: ArchiveSource) -> list[tuple[str, str | None]]:
    entries = _read_json(source, "manifest.json")
    if not isinstance(entries, list):
        raise ArchiveError("manifest.json must be a list")
    loaded: list[tuple[str, str | None]] = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise ArchiveError(f"manifest.json entry {n} needs Config and Layers")
        tags = [normalize(str(t)) for t in entry.get("RepoTags") or []]
        config_digest = _copy_blob(store, source, entry["Config"], None)
        diff_ids = store.read_json(config_digest).get("rootfs", {}).get("diff_ids", [])
        if len(diff_ids) != len(entry["Layers"]):
            raise ArchiveError(f"manifest.json entry {n}: {len(entry['Layers'])} layers, config has "
                               f"{len(diff_ids)} diff_ids")
        layers = []
        for layer_name, diff_id in zip(entry["Layers"], diff_ids, strict=True):
            digest = _copy_blob(store, source, str(layer_name), None)
            path = store.blob_path(digest)
            with open(path, "rb") as f:
                media_type = layer_media_type(f.read(4))
            if _uncompressed_digest(path, media_type, digest) != diff_id:
                raise ArchiveError(f"layer {layer_name} does not match diff_id {diff_id}: the archive is corrupt")
            layers.append({"mediaType": media_type, "digest": digest, "size": path.stat().st_size})
        config_size = store.blob_path(config_digest).stat().st_size
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
                    "layers": layers}
        manifest_digest = store.put_blob(json.dumps(manifest, separators=(",", ":")).encode())
        image = store.record_image(manifest_digest, tags[0] if tags else None)
        for tag in tags[1:]:
            store.tag(image.id, tag)
        loaded += [(image.id, t) for t in tags] or [(image.id, None)]
    return loaded


def _uncompressed_digest(path: Any, media_type: str, digest: str) -> str:
    if media_type.endswith("v1.tar"):
        return digest
    with open(path, "rb") as raw:
        return diff_id_of(raw)
