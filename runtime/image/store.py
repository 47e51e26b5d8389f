"""The local image store: content-addressed blobs, layers unpacked once, references in one index.

Layout under ``images_dir``::

    blobs/sha256/<hex>        layer tarballs, image configs, manifests (OCI JSON)
    layers/<diff_id hex>/     unpacked layers, shared by every image that has them
    index.json                {"references": {ref: image id}, "images": {image id: manifest digest}}
    .lock                     flock held while the index changes or a layer is renamed into place
    .gc.lock                  shared by writers for a whole import, exclusive for prune

Writes are atomic (temporary file or directory inside the store, then rename), so a crash leaves
either the old or the new state, and two processes importing the same layer do not corrupt each
other. Temporary names start with a dot; nothing else in the store does.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from runtime.image.config import ImageConfig
from runtime.image.diffid import DiffIdReader
from runtime.image.errors import ImageError, ImageNotFound
from runtime.image.layer_tar import write_layer
from runtime.image.reference import InvalidReference, normalize, parse
from runtime.image.unpack import unpack_layer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
_HEX_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_ID_PREFIX = re.compile(r"(?:sha256:)?[0-9a-f]{1,64}", re.ASCII)
_MIN_PREFIX = 4


class ImageInUse(ImageError):
    """The image is used by a container and cannot be removed."""


@dataclass(frozen=True)
class Layer:
    """One layer of an image as the store keeps it: its blob (possibly compressed) and its content id."""

    blob_digest: str
    diff_id: str
    size: int
    media_type: str = OCI_LAYER


@dataclass(frozen=True)
class Image:
    id: str                      # "sha256:<config digest>", as Docker's image ids
    references: list[str]        # normalised, sorted
    config: ImageConfig
    layer_dirs: list[Path]       # BOTTOM layer first; overlayfs's lowerdir= wants the reverse (top first)
    size: int                    # bytes of the layer blobs
    manifest_digest: str = ""


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.layers = root / "layers"
        self._writers = threading.local()
        for d in (self.blobs, self.layers):
            d.mkdir(parents=True, exist_ok=True)

    # --- locking and the index -------------------------------------------------------------------
    @contextlib.contextmanager
    def _flock(self, name: str, mode: int) -> Iterator[None]:
        with open(self.root / name, "a") as lock:
            fcntl.flock(lock, mode)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """Serialises changes of the index and of the set of layer directories."""
        return self._flock(".lock", fcntl.LOCK_EX)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold while adding blobs and layers that no image refers to yet, so that `prune` waits.

        Shared between writers and re-entrant within a thread (import → add_image → unpack).
        """
        depth = getattr(self._writers, "depth", 0)
        if depth:
            self._writers.depth = depth + 1
            try:
                yield
            finally:
                self._writers.depth = depth
            return
        with self._flock(".gc.lock", fcntl.LOCK_SH):
            self._writers.depth = 1
            try:
                yield
            finally:
                self._writers.depth = 0

    def _index(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.root / "index.json").read_text())
        except FileNotFoundError:
            data = {}
        except (ValueError, OSError) as exc:
            raise ImageError(f"image index {self.root / 'index.json'} is unreadable: {exc}") from exc
        data.setdefault("references", {})
        data.setdefault("images", {})
        data.setdefault("pushed", {})  # manifest digest -> image id: the manifests `push` made (compressed)
        return data

    def _write_index(self, index: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".index-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(index, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.root / "index.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # --- blobs -----------------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        if not _HEX_DIGEST.fullmatch(digest):
            raise ImageError(f"unsupported digest {digest!r}: want sha256:<64 hex digits>")
        return self.blobs / digest.removeprefix("sha256:")

    def put_blob(self, data: bytes) -> str:
        """Store ``data``; call inside `writing` unless an image will not refer to it."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return digest

    def ingest(self, write: Any) -> str:
        """Store a blob produced by ``write(file)`` (streamed, hashed as written); returns its digest."""
        fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as raw:
                hashing = _HashingWriter(raw)
                write(hashing)
            digest = "sha256:" + hashing.hexdigest()
            os.replace(tmp, self.blob_path(digest))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def read_json(self, digest: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.blob_path(digest).read_bytes())
        except FileNotFoundError:
            raise ImageError(f"blob {digest} is missing from the store") from None
        return data

    # --- layers ----------------------------------------------------------------------------------------
    def layer_dir(self, diff_id: str) -> Path:
        if not _HEX_DIGEST.fullmatch(diff_id):
            raise ImageError(f"unsupported layer diff_id {diff_id!r}")
        return self.layers / diff_id.removeprefix("sha256:")

    def unpack(self, blob_digest: str, diff_id: str, verify: bool = False) -> Path:
        """Unpack a stored layer blob once; concurrent callers end up with the same directory.

        Each caller extracts into its own temporary directory inside the store and renames it into
        place under the lock; the loser of a race throws its copy away. With ``verify`` (blobs from
        a registry or an archive) the uncompressed stream must hash to ``diff_id`` before the
        directory is renamed into place.
        """
        target = self.layer_dir(diff_id)
        if target.exists():
            return target
        with self.writing():
            return self._unpack_new(blob_digest, target, diff_id if verify else None)

    def _unpack_new(self, blob_digest: str, target: Path, expected_diff_id: str | None = None) -> Path:
        staging = Path(tempfile.mkdtemp(dir=self.layers, prefix=".tmp-"))
        try:
            os.chmod(staging, 0o755)
            with open(self.blob_path(blob_digest), "rb") as f:
                if expected_diff_id is None:
                    unpack_layer(f, str(staging))
                else:
                    reader = DiffIdReader(f)
                    unpack_layer(cast(IO[bytes], reader), str(staging))
                    reader.drain()
                    if reader.digest() != expected_diff_id:
                        raise ImageError(f"layer {blob_digest} unpacks to {reader.digest()}, but the image config "
                                         f"says {expected_diff_id}: refused")
            with self._locked():
                if target.exists():
                    shutil.rmtree(staging)
                else:
                    os.rename(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    # --- images ----------------------------------------------------------------------------------------
    def add_image(self, layers: list[Layer], config: ImageConfig, reference: str | None,
                  history: str | builtins.list[dict[str, Any]] = "") -> Image:
        """Record an image from layer blobs already in the store, bottom first; unpack what is missing.

        ``history`` is one ``created_by`` text, or the config's whole history (entries of steps that
        made no layer say ``empty_layer``), as a build writes it.
        """
        ref_key = normalize(reference) if reference else None  # refuse a bad reference before any work
        with self.writing():
            config_json = {
                "architecture": _arch(), "os": "linux", "config": config.to_oci(),
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
                "history": ([{"created_by": history}] if history else []) if isinstance(history, str)
                else [dict(entry) for entry in history],
            }
            config_digest = self.put_blob(json.dumps(config_json, sort_keys=True).encode())
            manifest = {
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                           "size": self.blob_path(config_digest).stat().st_size},
                "layers": [{"mediaType": layer.media_type, "digest": layer.blob_digest, "size": layer.size}
                           for layer in layers],
            }
            manifest_digest = self.put_blob(json.dumps(manifest, sort_keys=True).encode())
            for layer in layers:
                self.unpack(layer.blob_digest, layer.diff_id)
            with self._locked():
                index = self._index()
                index["images"][config_digest] = manifest_digest
                if ref_key:
                    index["references"][ref_key] = config_digest
                self._write_index(index)
        return self.resolve(config_digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def record_image(self, manifest_digest: str, reference: str | None) -> Image:
        """Record an image whose manifest, config and layer blobs are stored exactly as they came.

        Pull and load use this instead of `add_image`, so the image id and manifest digest stay the
        ones the registry or archive gave. Layers not unpacked yet are unpacked here.
        """
        ref_key = normalize(reference) if reference else None
        with self.writing():
            manifest = self.read_json(manifest_digest)
            config_digest = str(manifest.get("config", {}).get("digest", ""))
            diff_ids = self.read_json(config_digest).get("rootfs", {}).get("diff_ids", [])
            layers = manifest.get("layers", [])
            if len(diff_ids) != len(layers):
                raise ImageError(f"image {config_digest}: {len(layers)} layers but {len(diff_ids)} diff_ids")
            for layer, diff_id in zip(layers, diff_ids, strict=True):
                self.unpack(str(layer["digest"]), str(diff_id), verify=True)
            with self._locked():
                index = self._index()
                index["images"][config_digest] = manifest_digest
                if ref_key:
                    index["references"][ref_key] = config_digest
                self._write_index(index)
        return self.resolve(config_digest)

    def import_rootfs(self, source: Path, reference: str, config: ImageConfig) -> Image:
        """`pyorch import`: a directory or a tarball (plain, gzip, bzip2, xz) becomes a one-layer image."""
        normalize(reference)
        if not source.exists():
            raise ImageError(f"import source {source} does not exist")
        with self.writing():
            # An uncompressed layer: its blob digest is also its diff_id.
            digest = self.ingest(lambda out: write_layer(source, out))
            size = self.blob_path(digest).stat().st_size
            return self.add_image([Layer(digest, digest, size)], config, reference,
                                  history=f"pyorch import {source.name}")

    def resolve(self, reference: str) -> Image:
        index = self._index()
        image_id = self._find(index, reference)
        manifest_digest = str(index["images"][image_id])
        manifest = self.read_json(manifest_digest)
        config = self.read_json(image_id)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        refs = sorted(r for r, i in index["references"].items() if i == image_id)
        size = sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))
        return Image(id=image_id, references=refs, config=ImageConfig.from_oci(config.get("config")),
                     layer_dirs=[self.layer_dir(d) for d in diff_ids], size=size,
                     manifest_digest=manifest_digest)

    def _find(self, index: dict[str, Any], reference: str) -> str:
        """Docker's order: a full image id, a reference (tag or digest), then a unique id prefix."""
        ref = reference.strip()
        images: dict[str, str] = index["images"]
        if _HEX_DIGEST.fullmatch(ref) or _HEX_DIGEST.fullmatch("sha256:" + ref):
            full = ref if ref.startswith("sha256:") else "sha256:" + ref
            if full in images:
                return full
        try:
            parsed = parse(ref)
        except InvalidReference:
            parsed = None
        if parsed is not None:
            found = index["references"].get(str(parsed))
            if found is not None:
                return str(found)
            if parsed.digest:
                by_digest = self._find_by_digest(index, parsed.repository, parsed.digest)
                if by_digest:
                    return by_digest
        if _ID_PREFIX.fullmatch(ref) and len(ref.removeprefix("sha256:")) >= _MIN_PREFIX:
            bare = ref.removeprefix("sha256:")
            matches = [i for i in images if i.removeprefix("sha256:").startswith(bare)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ImageError(f"image id prefix {reference!r} is ambiguous: {len(matches)} images match")
        if parsed is None and not _ID_PREFIX.fullmatch(ref):
            parse(ref)  # re-raise the parse error: the user typed something that is no reference
        raise ImageNotFound(f"no such image: {reference} (pull it with `pyorch pull`, load it with `pyorch load`, "
                            "or make base images with `pyorch image bootstrap`)")

    @staticmethod
    def _find_by_digest(index: dict[str, Any], repository: str, digest: str) -> str | None:
        """``repo@sha256:…`` names the manifest of an image stored under that repository (the one it
        was stored with, or one a push made)."""
        for image_id, manifest_digest in index["images"].items():
            if digest in (manifest_digest, image_id, *_pushed_of(index, image_id)) and any(
                    r.rsplit(":", 1)[0] == repository or r.split("@")[0] == repository
                    for r, i in index["references"].items() if i == image_id):
                return str(image_id)
        return None

    def add_pushed_manifest(self, image_id: str, body: bytes) -> str:
        """Record another manifest of the image (a push's, naming compressed layer blobs already in
        the store): ``name@<its digest>`` resolves to the image, and `prune` keeps it and its blobs
        while the image is kept."""
        with self.writing():
            digest = self.put_blob(body)
            with self._locked():
                index = self._index()
                if image_id not in index["images"]:
                    raise ImageNotFound(f"no such image: {image_id} (removed meanwhile)")
                index["pushed"][digest] = image_id
                self._write_index(index)
        return digest

    def list(self) -> builtins.list[Image]:
        return [self.resolve(i) for i in sorted(self._index()["images"])]

    def tag(self, source: str, reference: str) -> Image:
        key = normalize(reference)
        image = self.resolve(source)
        with self._locked():
            index = self._index()
            if image.id not in index["images"]:
                raise ImageNotFound(f"no such image: {source} (removed meanwhile)")
            index["references"][key] = image.id
            self._write_index(index)
        return self.resolve(image.id)

    def remove(self, reference: str, in_use: set[str] | frozenset[str] = frozenset()) -> builtins.list[str]:
        """Untag ``reference``; the image goes when its last reference does.

        Naming the image by id drops all its references. Refused (`ImageInUse`) when the image would
        go while one of ``in_use`` (image ids of containers) is it. Layers and blobs stay until `prune`.
        Returns the references removed.
        """
        with self._locked():
            index = self._index()
            image_id, refs, dropping = self._names_to_drop(index, reference)
            if len(dropping) == len(refs) and image_id in in_use:
                raise ImageInUse(f"image {reference} ({image_id[7:19]}) is used by a container; "
                                 "remove the container first")
            for r in dropping:
                del index["references"][r]
            if len(dropping) == len(refs):
                index["images"].pop(image_id, None)
            self._write_index(index)
        return [r for r in dropping if r]

    def _names_to_drop(self, index: dict[str, Any], reference: str,
                       ) -> tuple[str, builtins.list[str], builtins.list[str]]:
        """(image id, all its references, the ones `reference` names: itself, or all when it is an id)."""
        image_id = self._find(index, reference)
        refs = sorted(r for r, i in index["references"].items() if i == image_id)
        try:
            key: str | None = normalize(reference)
        except InvalidReference:
            key = None
        return image_id, refs, [key] if key is not None and key in refs else refs

    def untag(self, reference: str) -> builtins.list[str]:
        """Drop ``reference`` (all references when named by id) but keep the image record, dangling.

        What `docker rmi -f` does to an image a container uses: the name goes, the layers stay, and
        `prune` keeps the image while its id is in ``keep_ids``.
        """
        with self._locked():
            index = self._index()
            _, _, dropping = self._names_to_drop(index, reference)
            for r in dropping:
                del index["references"][r]
            self._write_index(index)
        return [r for r in dropping if r]

    def prune(self, keep_ids: set[str] | frozenset[str] = frozenset()) -> builtins.list[str]:
        """Remove untagged images not in ``keep_ids``, then blobs and layers no image refers to.

        Waits for imports in flight (they hold the gc lock shared) so their blobs are not taken.
        Returns the digests of the blobs removed.
        """
        with self._flock(".gc.lock", fcntl.LOCK_EX), self._locked():
            index = self._index()
            tagged = set(index["references"].values())
            for image_id in builtins.list(index["images"]):
                if image_id not in tagged and image_id not in keep_ids:
                    del index["images"][image_id]
            index["pushed"] = {d: i for d, i in index["pushed"].items() if i in index["images"]}
            self._write_index(index)
            live_blobs: set[str] = set()
            live_layers: set[str] = set()
            for image_id, manifest_digest in index["images"].items():
                for digest in (manifest_digest, *_pushed_of(index, image_id)):
                    manifest = self.read_json(digest)
                    live_blobs |= {image_id, digest, *(layer["digest"] for layer in manifest["layers"])}
                live_layers |= set(self.read_json(image_id)["rootfs"]["diff_ids"])
            removed = []
            for blob in sorted(self.blobs.iterdir()):
                if f"sha256:{blob.name}" not in live_blobs:  # includes leftovers of crashed writers
                    blob.unlink()
                    if not blob.name.startswith("."):
                        removed.append(f"sha256:{blob.name}")
            for layer in self.layers.iterdir():
                if f"sha256:{layer.name}" not in live_layers:
                    shutil.rmtree(layer)
            return removed


def _pushed_of(index: dict[str, Any], image_id: str) -> builtins.list[str]:
    return [digest for digest, owner in index["pushed"].items() if owner == image_id]


class _HashingWriter:
    """A write-only file that hashes what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
