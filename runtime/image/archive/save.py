"""`pyorch save`: stored images to a tarball or an OCI layout directory.

``tar`` (the default) is what Docker 25+ writes: an OCI image layout (``oci-layout``,
``index.json``, ``blobs/sha256/…``) plus the docker-archive ``manifest.json`` whose ``Config`` and
``Layers`` point at the same blobs, so ``docker load``, ``skopeo``'s ``docker-archive:`` and
``oci-archive:`` transports and pyorch all read it. ``oci-dir`` writes the layout as a directory
(skopeo's ``oci:`` transport). Blobs go out exactly as stored, so digests and image ids survive.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from runtime.image.archive.errors import ArchiveError
from runtime.image.reference import InvalidReference, parse, short_form
from runtime.image.registry.media import OCI_INDEX, OCI_MANIFEST
from runtime.image.store import Image, ImageStore

SAVE_FORMATS = ("tar", "oci-dir")
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"


class _DirSink:
    def __init__(self, root: Path) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ArchiveError(f"{root} exists and is not an empty directory")
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        self.root = root

    def add_bytes(self, name: str, data: bytes) -> None:
        (self.root / name).write_bytes(data)

    def add_file(self, name: str, source: Path) -> None:
        target = self.root / name
        if not target.exists():
            shutil.copyfile(source, target)

    def close(self) -> None:
        """Every file is complete as soon as it is written."""


class _TarSink:
    def __init__(self, out: Any) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self._names: set[str] = set()
        self._dirs_written = False

    def _dirs(self) -> None:
        if self._dirs_written:
            return
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            self._tar.addfile(info)
        self._dirs_written = True

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        self._tar.addfile(info, io.BytesIO(data))

    def add_file(self, name: str, source: Path) -> None:
        self._dirs()
        if name in self._names:
            return
        self._names.add(name)
        info = tarfile.TarInfo(name)
        info.size, info.mode = source.stat().st_size, 0o644
        with open(source, "rb") as f:
            self._tar.addfile(info, f)

    def close(self) -> None:
        self._tar.close()


def save_images(store: ImageStore, references: list[str], output: Path | Any, fmt: str = "tar") -> list[str]:
    """Write the named images; ``output`` is a path, or a binary stream for ``tar``. Returns image ids.

    Every name is resolved before anything is written, so a typo leaves no half-written output.
    """
    if fmt not in SAVE_FORMATS:
        raise ArchiveError(f"unknown save format {fmt!r}: want one of {', '.join(SAVE_FORMATS)}")
    if not references:
        raise ArchiveError("save needs at least one image")
    chosen: list[tuple[str, Image]] = [(r, store.resolve(r)) for r in references]
    try:
        _save(store, chosen, output, fmt)
    except OSError as exc:
        raise ArchiveError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return [image.id for _, image in chosen]


def _save(store: ImageStore, chosen: list[tuple[str, Image]], output: Path | Any, fmt: str) -> None:
    if fmt == "oci-dir":
        if not isinstance(output, Path):
            raise ArchiveError("the oci-dir format needs a directory path (-o DIR)")
        _write(store, chosen, _DirSink(output), docker_manifest=False)
        return
    own = isinstance(output, Path)
    stream = open(output, "wb") if isinstance(output, Path) else output
    try:
        tar_sink = _TarSink(stream)
        _write(store, chosen, tar_sink, docker_manifest=True)
        tar_sink.close()
    except BaseException:
        if own:
            stream.close()
            Path(output).unlink(missing_ok=True)
        raise
    if own:
        stream.close()


def _write(store: ImageStore, chosen: list[tuple[str, Image]], sink: _DirSink | _TarSink,
           docker_manifest: bool) -> None:
    index_entries: list[dict[str, Any]] = []
    docker_entries: dict[str, dict[str, Any]] = {}
    for name, image in chosen:
        manifest_bytes = store.blob_path(image.manifest_digest).read_bytes()
        manifest = json.loads(manifest_bytes)
        layers = [str(layer["digest"]) for layer in manifest.get("layers", [])]
        for digest in [*layers, image.id, image.manifest_digest]:
            sink.add_file(_blob_name(digest), store.blob_path(digest))
        tags = _tags_for(name, image)
        entry: dict[str, Any] = {"mediaType": manifest.get("mediaType") or OCI_MANIFEST,
                                 "digest": image.manifest_digest, "size": len(manifest_bytes)}
        for tag in tags or [""]:
            annotations = {NAME_ANNOTATION: tag, REF_ANNOTATION: parse(tag).tag or ""} if tag else {}
            index_entries.append({**entry, "annotations": annotations} if annotations else entry)
        if image.id not in docker_entries:
            docker_entries[image.id] = {"Config": _blob_name(image.id), "RepoTags": [],
                                        "Layers": [_blob_name(d) for d in layers]}
        docker_entries[image.id]["RepoTags"] += [short_form(t) for t in tags
                                                 if short_form(t) not in docker_entries[image.id]["RepoTags"]]
    sink.add_bytes("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    sink.add_bytes("index.json", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                             "manifests": index_entries}, indent=1).encode())
    if docker_manifest:
        sink.add_bytes("manifest.json", json.dumps(list(docker_entries.values()), indent=1).encode())


def _tags_for(name: str, image: Image) -> list[str]:
    """The references saved with an image: the one named, or all of them when it was named by id."""
    try:
        ref = parse(name)
    except InvalidReference:
        ref = None
    if ref is not None and str(ref) in image.references and ref.tag:
        return [str(ref)]
    return [r for r in image.references if "@" not in r]


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")
