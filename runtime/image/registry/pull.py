"""Pulling an image into the store: manifest → platform → config → layers (concurrent) → record.

Blobs already in the store are not fetched again; a layer is downloaded into
``blobs/sha256/.partial-<hex>`` (resumed with a Range request if a previous pull broke off),
verified against its digest, renamed into place and unpacked while other layers still download.
The whole pull holds the store's writer lock, so `prune` cannot take blobs from under it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from runtime.image.reference import Reference, parse
from runtime.image.registry.client import RegistryClient
from runtime.image.registry.errors import DigestMismatch, PlatformNotFound, RegistryError
from runtime.image.registry.events import Listener, TransferEvent, ignore
from runtime.image.registry.media import Descriptor, ImageIndex, ImageManifest, parse_manifest
from runtime.image.registry.platform import Platform, host_platform, select_manifest
from runtime.image.registry.session import Registries
from runtime.image.store import Image, ImageStore

DEFAULT_CONCURRENCY = 3  # Docker's max-concurrent-downloads


def pull_image(store: ImageStore, registries: Registries, reference: str, platform: Platform | None = None,
               listener: Listener = ignore, concurrency: int = DEFAULT_CONCURRENCY) -> Image:
    """Pull ``reference``; an explicit ``platform`` must match a single-platform image's config too."""
    ref = parse(reference)
    with registries.client(ref.registry) as client:
        return _pull(store, client, ref, platform or host_platform(), listener, concurrency, platform is not None)


def _pull(store: ImageStore, client: RegistryClient, ref: Reference, platform: Platform,
          listener: Listener, concurrency: int, strict_platform: bool) -> Image:
    body, media_type, digest = client.get_manifest(ref.path, ref.digest or str(ref.tag))
    parsed = parsed_top = parse_manifest(body, media_type)
    if isinstance(parsed, ImageIndex):
        chosen = select_manifest(parsed, platform)
        body, media_type, digest = client.get_manifest(ref.path, chosen.digest)
        parsed = parse_manifest(body, media_type)
        if isinstance(parsed, ImageIndex):
            raise RegistryError(f"{ref}: the index for {platform} points at another index")
    manifest: ImageManifest = parsed
    listener(TransferEvent("resolved", digest, detail=str(ref)))
    with store.writing():
        config_digest = manifest.config.digest
        if not store.has_blob(config_digest):
            config_bytes = client.get_blob_bytes(ref.path, config_digest)
            store.put_blob(config_bytes)
        config = store.read_json(config_digest)
        if strict_platform and isinstance(parsed_top, ImageManifest):
            _check_platform(ref, config, platform)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        if not isinstance(diff_ids, list) or len(diff_ids) != len(manifest.layers):
            raise RegistryError(f"{ref}: the config lists {len(diff_ids) if isinstance(diff_ids, list) else 0} "
                                f"diff_ids for {len(manifest.layers)} layers")
        for layer in manifest.layers:
            listener(TransferEvent("waiting", layer.digest, 0, layer.size))
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="pull") as pool:
            futures = [pool.submit(_fetch_layer, store, client, ref, layer, str(diff_id), listener)
                       for layer, diff_id in zip(manifest.layers, diff_ids, strict=True)]
            errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        manifest_digest = store.put_blob(body)
        if manifest_digest != digest:
            raise DigestMismatch(f"{ref}: stored manifest hashes to {manifest_digest}, expected {digest}")
        image = store.record_image(manifest_digest, str(ref))
    record_pull(store, str(ref))
    listener(TransferEvent("done", digest, detail=image.id))
    return image


def _check_platform(ref: Reference, config: dict[str, Any], want: Platform) -> None:
    """A single-platform image asked for with another platform is refused, not silently pulled."""
    have = Platform(str(config.get("os", "")), str(config.get("architecture", "")), str(config.get("variant") or ""))
    if (have.os, have.architecture) != (want.os, want.architecture) or (want.variant and have.variant
                                                                         and have.variant != want.variant):
        raise PlatformNotFound(f"{ref} is a single-platform image for {have}, not {want}")


def _fetch_layer(store: ImageStore, client: RegistryClient, ref: Reference, layer: Descriptor, diff_id: str,
                 listener: Listener) -> None:
    with store.writing():  # this thread's own shared hold: prune waits for it too
        if store.layer_dir(diff_id).exists() and store.has_blob(layer.digest):
            listener(TransferEvent("exists", layer.digest, layer.size, layer.size))
            return
        if not store.has_blob(layer.digest):
            target = store.blob_path(layer.digest)
            partial = target.with_name(".partial-" + target.name)
            done = 0

            def progress(n: int) -> None:
                nonlocal done
                done += n
                listener(TransferEvent("downloading", layer.digest, done, layer.size))

            client.download_blob(ref.path, layer.digest, layer.size, partial, progress)
            os.replace(partial, target)
        listener(TransferEvent("unpacking", layer.digest, layer.size, layer.size))
        store.unpack(layer.digest, diff_id, verify=True)
        listener(TransferEvent("done", layer.digest, layer.size, layer.size))


# --- when each reference was last pulled (for pull_policy daily/weekly/every_<duration>) ---------------

def _pulls_file(store: ImageStore) -> Path:
    return store.root / "pulls.json"


def record_pull(store: ImageStore, reference: str, when: float | None = None) -> None:
    path = _pulls_file(store)
    data = last_pulls(store)
    data[reference] = time.time() if when is None else when
    fd, tmp = tempfile.mkstemp(dir=store.root, prefix=".pulls-")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, sort_keys=True)
    os.replace(tmp, path)


def last_pulls(store: ImageStore) -> dict[str, float]:
    try:
        data = json.loads(_pulls_file(store).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
