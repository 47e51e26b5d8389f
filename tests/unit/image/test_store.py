"""The store's bookkeeping: blobs, index, resolve rules, tag/remove/prune (small imports, no root needed)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from runtime.image import ImageConfig, ImageError, ImageNotFound, ImageStore
from runtime.image.reference import InvalidReference
from runtime.image.store import ImageInUse


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


def _rootfs(tmp_path: Path, text: str) -> Path:
    root = tmp_path / f"rootfs-{text}"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "motd").write_text(text)
    (root / "bin").mkdir()
    (root / "bin" / "sh").symlink_to("busybox")
    return root


def test_import_writes_oci_blobs_and_resolves(store: ImageStore, tmp_path: Path) -> None:
    image = store.import_rootfs(_rootfs(tmp_path, "one"), "busybox", ImageConfig(cmd=["sh"]))
    assert image.id.startswith("sha256:") and len(image.id) == 71
    assert image.references == ["docker.io/library/busybox:latest"]
    assert image.config.cmd == ["sh"]
    assert len(image.layer_dirs) == 1
    assert (image.layer_dirs[0] / "etc" / "motd").read_text() == "one"
    assert (image.layer_dirs[0] / "bin" / "sh").readlink() == Path("busybox")

    manifest = store.read_json(image.manifest_digest)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["digest"] == image.id
    layer = manifest["layers"][0]
    config = store.read_json(image.id)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}
    assert image.layer_dirs[0].name == layer["digest"].removeprefix("sha256:")
    assert image.size == layer["size"] == store.blob_path(layer["digest"]).stat().st_size
    with tarfile.open(store.blob_path(layer["digest"])) as tar:
        assert tar.getnames() == ["bin", "bin/sh", "etc", "etc/motd"]

    for name in ("busybox", "busybox:latest", "docker.io/library/busybox", image.id, image.id[7:], image.id[7:19],
                 image.id[:11], f"busybox@{image.manifest_digest}"):
        assert store.resolve(name).id == image.id, name


def test_missing_image_is_a_clear_typed_error(store: ImageStore) -> None:
    with pytest.raises(ImageNotFound, match="no such image: busybox"):
        store.resolve("busybox")
    with pytest.raises(InvalidReference):
        store.resolve("Not Valid")


def test_same_content_same_id_and_layer_shared(store: ImageStore, tmp_path: Path) -> None:
    root = _rootfs(tmp_path, "same")
    first = store.import_rootfs(root, "a", ImageConfig(cmd=["sh"]))
    second = store.import_rootfs(root, "b", ImageConfig(cmd=["sh"]))
    third = store.import_rootfs(root, "c", ImageConfig(cmd=["true"]))
    assert first.id == second.id
    assert sorted(store.resolve("a").references) == ["docker.io/library/a:latest", "docker.io/library/b:latest"]
    assert third.id != first.id
    assert third.layer_dirs == first.layer_dirs
    assert len(list(store.layers.iterdir())) == 1


def test_id_prefixes_need_four_digits_and_must_be_unique(store: ImageStore, tmp_path: Path) -> None:
    image = store.import_rootfs(_rootfs(tmp_path, "x"), "x", ImageConfig())
    with pytest.raises(ImageNotFound):
        store.resolve(image.id[7:10])
    # Two ids sharing a prefix take ~300 imports to happen by chance; write such an index directly.
    index = json.loads((store.root / "index.json").read_text())
    twin = image.id[:11] + "f" * 60
    index["images"][twin] = index["images"][image.id]
    (store.root / "index.json").write_text(json.dumps(index))
    with pytest.raises(ImageError, match="ambiguous"):
        store.resolve(image.id[7:11])
    assert store.resolve(image.id[7:12] if image.id[11] != "f" else image.id).id == image.id


def test_import_of_a_tarball(store: ImageStore, tmp_path: Path) -> None:
    tarball = tmp_path / "rootfs.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(_rootfs(tmp_path, "from-tar"), arcname=".")
    image = store.import_rootfs(tarball, "localhost:5000/tarred:1", ImageConfig(env=["A=1"]))
    assert (image.layer_dirs[0] / "etc" / "motd").read_text() == "from-tar"
    assert store.resolve("localhost:5000/tarred:1").config.env == ["A=1"]


def test_import_refuses_bad_input_before_writing(store: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        store.import_rootfs(tmp_path / "nope", "x", ImageConfig())
    with pytest.raises(InvalidReference):
        store.import_rootfs(_rootfs(tmp_path, "y"), "UPPER", ImageConfig())
    not_tar = tmp_path / "junk.tar"
    not_tar.write_bytes(b"this is no tarball" * 100)
    with pytest.raises(ImageError):
        store.import_rootfs(not_tar, "x", ImageConfig())
    assert store.list() == []
    assert [p.name for p in store.blobs.iterdir()] == []


def test_tag_remove_and_in_use(store: ImageStore, tmp_path: Path) -> None:
    image = store.import_rootfs(_rootfs(tmp_path, "t"), "app:1", ImageConfig())
    tagged = store.tag("app:1", "localhost:5000/app:prod")
    assert tagged.references == ["docker.io/library/app:1", "localhost:5000/app:prod"]
    assert store.remove("app:1", in_use={image.id}) == ["docker.io/library/app:1"]  # one tag of two: allowed
    with pytest.raises(ImageInUse, match="used by a container"):
        store.remove("localhost:5000/app:prod", in_use={image.id})
    assert store.resolve(image.id).references == ["localhost:5000/app:prod"]
    assert store.remove("localhost:5000/app:prod") == ["localhost:5000/app:prod"]
    with pytest.raises(ImageNotFound):
        store.resolve(image.id)
    with pytest.raises(ImageNotFound):
        store.tag("app:1", "other")


def test_remove_by_id_drops_all_references(store: ImageStore, tmp_path: Path) -> None:
    image = store.import_rootfs(_rootfs(tmp_path, "r"), "r1", ImageConfig())
    store.tag("r1", "r2")
    assert sorted(store.remove(image.id[7:19])) == ["docker.io/library/r1:latest", "docker.io/library/r2:latest"]
    assert store.list() == []


def test_prune_keeps_what_is_referenced(store: ImageStore, tmp_path: Path) -> None:
    kept = store.import_rootfs(_rootfs(tmp_path, "kept"), "kept", ImageConfig())
    gone = store.import_rootfs(_rootfs(tmp_path, "gone"), "gone", ImageConfig())
    running = store.import_rootfs(_rootfs(tmp_path, "running"), "running", ImageConfig())
    store.remove("gone")
    # Importing the reference again leaves the old image untagged while a container still runs it.
    newer = store.import_rootfs(_rootfs(tmp_path, "newer"), "running", ImageConfig())
    assert store.resolve(running.id).references == []
    (store.blobs / ".tmp-crashed-writer").write_bytes(b"half")
    (store.layers / ".tmp-crashed-unpack").mkdir()
    removed = store.prune(keep_ids={running.id})
    assert gone.id in removed and kept.id not in removed
    assert not gone.layer_dirs[0].exists()
    assert kept.layer_dirs[0].exists() and running.layer_dirs[0].exists()
    assert store.resolve("kept").id == kept.id
    assert not (store.blobs / ".tmp-crashed-writer").exists()
    assert not (store.layers / ".tmp-crashed-unpack").exists()
    assert store.prune(keep_ids={running.id}) == []
    assert {i.id for i in store.list()} == {kept.id, running.id, newer.id}
    running_layer = store.read_json(running.manifest_digest)["layers"][0]["digest"]
    assert store.prune() == sorted([running.id, running.manifest_digest, running_layer])
    assert not running.layer_dirs[0].exists()
