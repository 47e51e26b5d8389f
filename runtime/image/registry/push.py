"""Pushing a stored image: every blob the registry lacks (HEAD first), the config, then the manifest.

Plain (uncompressed) layers go compressed, gzip by default or zstd (`compress.py`), under a new
manifest that the store records as a pushed manifest of the image; an image whose layers are all
compressed already (a pulled one) is pushed byte for byte as stored. Either way a pull of what
was pushed gives back the same image id and the pushed manifest digest.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from runtime.image.reference import parse
from runtime.image.registry.client import RegistryClient
from runtime.image.registry.compress import manifest_for_push
from runtime.image.registry.errors import RegistryError
from runtime.image.registry.events import Listener, TransferEvent, ignore
from runtime.image.registry.media import OCI_MANIFEST, Descriptor, ImageManifest, parse_manifest
from runtime.image.registry.session import Registries
from runtime.image.store import ImageStore


def push_image(store: ImageStore, registries: Registries, source: str, target: str | None = None,
               listener: Listener = ignore, chunk_size: int | None = None, concurrency: int = 3,
               compression: str = "gzip") -> str:
    """Push ``source`` (a stored image) as ``target`` (default: ``source``); returns the manifest digest."""
    image = store.resolve(source)
    ref = parse(target or source)
    if ref.digest:
        raise RegistryError(f"cannot push to a digest reference {ref}: name a tag")
    body = store.blob_path(image.manifest_digest).read_bytes()
    manifest = parse_manifest(body)
    if not isinstance(manifest, ImageManifest):
        raise RegistryError(f"image {source} is stored with an index, not a manifest")
    with store.writing():  # the compressed blobs are not collected before the manifest names them
        manifest, pushed = manifest_for_push(store, manifest, body, compression)
        if pushed != body:
            store.add_pushed_manifest(image.id, pushed)
    body = pushed
    with registries.client(ref.registry) as client:
        blobs = [*manifest.layers, manifest.config]
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="push") as pool:
            futures = [pool.submit(_push_blob, store, client, ref.path, blob, listener, chunk_size) for blob in blobs]
            errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        media_type = manifest.media_type or OCI_MANIFEST
        digest = client.put_manifest(ref.path, str(ref.tag), body, media_type)
    listener(TransferEvent("pushed", digest, detail=str(ref)))
    return digest


def _push_blob(store: ImageStore, client: RegistryClient, repository: str, blob: Descriptor,
               listener: Listener, chunk_size: int | None) -> None:
    if client.blob_exists(repository, blob.digest):
        listener(TransferEvent("exists", blob.digest, blob.size, blob.size))
        return
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        listener(TransferEvent("uploading", blob.digest, done, blob.size))

    client.upload_blob(repository, blob.digest, store.blob_path(blob.digest), chunk_size, progress)
    listener(TransferEvent("pushed", blob.digest, blob.size, blob.size))
