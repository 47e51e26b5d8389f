"""The local image store: content-addressed blobs, layers unpacked once, references in one index.

Layout under ``images_dir``::

    blobs/sha256/<hex>        layer tarballs, image configs, manifests (OCI JSON)
    layers/<diff_id hex>/     unpacked layers, shared by every image that has them
    index.json                {"references": {ref: image id}, "images": {image id: manifest digest}}
    .lock                     flock held while the index or a layer directory changes

Writes are atomic (temporary file or directory, then rename), so a crash leaves either the old or
the new state, and two processes importing the same layer do not corrupt each other.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.image.config import ImageConfig
from runtime.image.errors import ImageError, ImageNotFound
from runtime.image.reference import normalize
from runtime.image.unpack import unpack_layer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class Image:
    id: str                      # "sha256:<config digest>"
    references: list[str]
    config: ImageConfig
    layer_dirs: list[Path]       # bottom layer first; overlay's lowerdir wants them reversed
    size: int


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.layers = root / "layers"
        for d in (self.blobs, self.layers):
            d.mkdir(parents=True, exist_ok=True)

    # --- locking and the index -------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _index(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.root / "index.json").read_text())
        except FileNotFoundError:
            data = {}
        data.setdefault("references", {})
        data.setdefault("images", {})
        return data

    def _write_index(self, index: dict[str, Any]) -> None:
        tmp = self.root / f".index.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(index, indent=1, sort_keys=True))
        os.replace(tmp, self.root / "index.json")

    # --- blobs -----------------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64:
            raise ImageError(f"unsupported digest {digest!r}")
        return self.blobs / hexdigest

    def put_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return digest

    def read_json(self, digest: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.blob_path(digest).read_bytes())
        return data

    # --- layers ----------------------------------------------------------------------------------------
    def layer_dir(self, diff_id: str) -> Path:
        return self.layers / diff_id.split(":", 1)[1]

    def unpack(self, blob_digest: str, diff_id: str) -> Path:
        """Unpack a stored layer blob once; concurrent callers end up with the same directory."""
        target = self.layer_dir(diff_id)
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(dir=self.layers, prefix=".tmp-"))
        try:
            os.chmod(staging, 0o755)
            with open(self.blob_path(blob_digest), "rb") as f:
                unpack_layer(f, str(staging))
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
    def add_image(self, layers: list[tuple[str, str, int]], config: ImageConfig, reference: str | None,
                  history: str = "") -> Image:
        """Record an image from stored layer blobs ``(blob digest, diff_id, size)``, bottom first."""
        config_json = {
            "architecture": _arch(), "os": "linux", "config": config.to_oci(),
            "rootfs": {"type": "layers", "diff_ids": [d for _, d, _ in layers]},
            "history": [{"created_by": history}] if history else [],
        }
        config_digest = self.put_blob(json.dumps(config_json, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest,
                       "size": self.blob_path(config_digest).stat().st_size},
            "layers": [{"mediaType": OCI_LAYER, "digest": b, "size": size} for b, _, size in layers],
        }
        manifest_digest = self.put_blob(json.dumps(manifest, sort_keys=True).encode())
        for blob, diff_id, _ in layers:
            self.unpack(blob, diff_id)
        with self._locked():
            index = self._index()
            index["images"][config_digest] = manifest_digest
            if reference:
                index["references"][normalize(reference)] = config_digest
            self._write_index(index)
        return self.resolve(config_digest)

    def import_rootfs(self, source: Path, reference: str, config: ImageConfig) -> Image:
        """`pyorch import`: a directory or a tarball becomes a one-layer image."""
        if not source.exists():
            raise ImageError(f"import source {source} does not exist")
        fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".tmp-")
        os.close(fd)
        try:
            if source.is_dir():
                with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
                    for entry in sorted(source.iterdir()):
                        tar.add(entry, arcname=entry.name, recursive=True)
            else:
                with tarfile.open(source, "r:*") as src, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as dst:
                    for member in src:
                        dst.addfile(member, src.extractfile(member) if member.isreg() else None)
            digest = "sha256:" + _sha256_file(Path(tmp))
            os.replace(tmp, self.blob_path(digest))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        size = self.blob_path(digest).stat().st_size
        # Uncompressed layer: the blob digest is also the diff_id.
        return self.add_image([(digest, digest, size)], config, reference, history=f"import {source.name}")

    def resolve(self, reference: str) -> Image:
        index = self._index()
        image_id = self._find(index, reference)
        manifest = self.read_json(index["images"][image_id])
        config = self.read_json(image_id)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        refs = sorted(r for r, i in index["references"].items() if i == image_id)
        size = sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))
        return Image(id=image_id, references=refs, config=ImageConfig.from_oci(config.get("config")),
                     layer_dirs=[self.layer_dir(d) for d in diff_ids], size=size)

    def _find(self, index: dict[str, Any], reference: str) -> str:
        ref = reference.strip()
        bare = ref.removeprefix("sha256:")
        if ref.startswith("sha256:") or (len(bare) >= 4 and all(c in "0123456789abcdef" for c in bare)):
            matches = [i for i in index["images"] if i.removeprefix("sha256:").startswith(bare)]
            if len(matches) == 1:
                return str(matches[0])
            if len(matches) > 1:
                raise ImageError(f"image id prefix {reference!r} is ambiguous")
        try:
            key = normalize(ref)
        except ImageError:
            raise ImageNotFound(f"no such image: {reference}") from None
        if key in index["references"]:
            return str(index["references"][key])
        raise ImageNotFound(f"no such image: {reference} (pyorch pulls from registries in a later version; "
                            "make images with `pyorch image bootstrap` or `pyorch import`)")

    def list(self) -> builtins.list[Image]:
        return [self.resolve(i) for i in sorted(self._index()["images"])]

    def tag(self, source: str, reference: str) -> None:
        image = self.resolve(source)
        with self._locked():
            index = self._index()
            index["references"][normalize(reference)] = image.id
            self._write_index(index)

    def remove(self, reference: str, in_use: set[str] | frozenset[str] = frozenset()) -> builtins.list[str]:
        """Untag; the image goes when its last reference does, unless a container uses it."""
        image = self.resolve(reference)
        with self._locked():
            index = self._index()
            key = normalize(reference) if not reference.startswith("sha256:") else None
            refs = [r for r, i in index["references"].items() if i == image.id]
            dropping = [key] if key in refs else refs
            if len(refs) - len(dropping) <= 0 and image.id in in_use:
                raise ImageError(f"image {reference} is used by a container; remove the container first")
            for r in dropping:
                del index["references"][r]
            if not [r for r, i in index["references"].items() if i == image.id]:
                index["images"].pop(image.id, None)
            self._write_index(index)
        return [str(r) for r in dropping if r]

    def prune(self, keep_ids: set[str] | frozenset[str] = frozenset()) -> builtins.list[str]:
        """Remove untagged images not in use, then blobs and layers nothing refers to."""
        with self._locked():
            index = self._index()
            tagged = set(index["references"].values())
            for image_id in list(index["images"]):
                if image_id not in tagged and image_id not in keep_ids:
                    del index["images"][image_id]
            self._write_index(index)
            live_blobs: set[str] = set()
            live_layers: set[str] = set()
            for image_id, manifest_digest in index["images"].items():
                manifest = self.read_json(manifest_digest)
                live_blobs |= {image_id, manifest_digest, *(layer["digest"] for layer in manifest["layers"])}
                live_layers |= set(self.read_json(image_id)["rootfs"]["diff_ids"])
            removed = []
            for blob in self.blobs.iterdir():
                if not blob.name.startswith(".") and f"sha256:{blob.name}" not in live_blobs:
                    blob.unlink()
                    removed.append(f"sha256:{blob.name}")
            for layer in self.layers.iterdir():
                if not layer.name.startswith(".") and f"sha256:{layer.name}" not in live_layers:
                    shutil.rmtree(layer)
            return removed


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
