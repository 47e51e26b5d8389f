"""save/load round trips, interoperability with skopeo, and refusal of corrupt archives."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from runtime.image import ImageConfig, ImageStore
from runtime.image.archive import ArchiveError, load_images, save_images
from runtime.image.bootstrap import build_busybox_rootfs

pytestmark = pytest.mark.root
REF = "example.com/team/box:1.0"


@pytest.fixture(scope="module")
def busybox_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rootfs") / "root"
    root.mkdir()
    build_busybox_rootfs(root)
    return root


@pytest.fixture
def source(tmp_path: Path, busybox_tree: Path) -> ImageStore:
    store = ImageStore(tmp_path / "source")
    store.import_rootfs(busybox_tree, REF, ImageConfig(cmd=["sh"], env=["A=1"], labels={"l": "v"}))
    return store


def _diff_ids(store: ImageStore, image_id: str) -> list[str]:
    return list(store.read_json(image_id)["rootfs"]["diff_ids"])


@pytest.mark.parametrize("fmt", ["tar", "oci-dir"])
def test_round_trip_keeps_ids_and_digests(source: ImageStore, tmp_path: Path, fmt: str) -> None:
    original = source.resolve(REF)
    source.tag(REF, "example.com/team/box:latest")
    out = tmp_path / ("saved.tar" if fmt == "tar" else "layout")
    assert save_images(source, [original.id], out, fmt) == [original.id]
    target = ImageStore(tmp_path / "target")
    loaded = load_images(target, out)
    assert sorted(loaded) == sorted((original.id, r) for r in ["example.com/team/box:1.0",
                                                               "example.com/team/box:latest"])
    back = target.resolve(REF)
    assert (back.id, back.manifest_digest, back.config) == (original.id, original.manifest_digest, original.config)
    assert (back.layer_dirs[0] / "bin" / "busybox").is_file()


def test_saved_tar_is_both_docker_archive_and_oci_layout(source: ImageStore, tmp_path: Path) -> None:
    source.tag(REF, "other/name:2")
    out = tmp_path / "saved.tar"
    save_images(source, [REF], out)  # by name: only that reference goes out
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        docker = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    image = source.resolve(REF)
    assert {"oci-layout", "index.json", "manifest.json", f"blobs/sha256/{image.id[7:]}"} <= names
    assert docker == [{"Config": f"blobs/sha256/{image.id[7:]}", "RepoTags": [REF],
                       "Layers": [f"blobs/sha256/{_diff_ids(source, image.id)[0][7:]}"]}]
    assert [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]] == [REF]
    with pytest.raises(Exception, match="no such image"):
        save_images(source, [REF, "nothing/here:1"], tmp_path / "never.tar")
    assert not (tmp_path / "never.tar").exists()
    with pytest.raises(ArchiveError, match="cannot write"):
        save_images(source, [REF], tmp_path / "no" / "such" / "dir.tar")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(ArchiveError, match="not an empty directory"):
        save_images(source, [REF], tmp_path / "full", "oci-dir")


def _rewrite_tar(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for member in tin.getmembers():
            if member.name in change:
                data = change[member.name]
                if data is None:
                    continue
                member.size = len(data)
                tout.addfile(member, io.BytesIO(data))
            else:
                tout.addfile(member, tin.extractfile(member) if member.isreg() else None)


def test_corrupt_and_malformed_archives_are_refused(source: ImageStore, tmp_path: Path) -> None:
    image = source.resolve(REF)
    layer = _diff_ids(source, image.id)[0]
    out = tmp_path / "saved.tar"
    save_images(source, [REF], out)
    bad_layer = tmp_path / "bad-layer.tar"
    _rewrite_tar(out, bad_layer, {f"blobs/sha256/{layer[7:]}": b"not the layer"})
    with pytest.raises(ArchiveError, match="corrupt"):
        load_images(ImageStore(tmp_path / "t1"), bad_layer)
    docker_only = tmp_path / "docker-only.tar"  # the docker-archive path checks diff_ids
    _rewrite_tar(bad_layer, docker_only, {"index.json": None, "oci-layout": None})
    with pytest.raises(ArchiveError, match="diff_id"):
        load_images(ImageStore(tmp_path / "t2"), docker_only)
    escaping = tmp_path / "escaping.tar"
    _rewrite_tar(out, escaping, {"index.json": None, "manifest.json": json.dumps(
        [{"Config": "../../etc/passwd", "Layers": []}]).encode()})
    with pytest.raises(ArchiveError, match="relative path"):
        load_images(ImageStore(tmp_path / "t3"), escaping)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArchiveError, match=r"neither index\.json"):
        load_images(ImageStore(tmp_path / "t4"), tmp_path / "empty")
    (tmp_path / "junk.tar").write_bytes(b"junk" * 100)
    with pytest.raises(ArchiveError, match="not a tar archive"):
        load_images(ImageStore(tmp_path / "t5"), tmp_path / "junk.tar")
    assert ImageStore(tmp_path / "t1").list() == []


skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed (scripts/setup.sh)")


def _skopeo(*args: str) -> str:
    result = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@skopeo
def test_skopeo_reads_what_pyorch_saves(source: ImageStore, tmp_path: Path) -> None:
    image = source.resolve(REF)
    save_images(source, [REF], tmp_path / "saved.tar")
    save_images(source, [REF], tmp_path / "layout", "oci-dir")
    for transport in (f"docker-archive:{tmp_path / 'saved.tar'}", f"oci-archive:{tmp_path / 'saved.tar'}",
                      f"oci:{tmp_path / 'layout'}"):
        config = json.loads(_skopeo("inspect", "--config", transport))
        assert config["config"]["Cmd"] == ["sh"] and config["rootfs"]["diff_ids"] == _diff_ids(source, image.id)
    raw = _skopeo("inspect", "--raw", f"oci:{tmp_path / 'layout'}")
    assert raw.encode() == source.blob_path(image.manifest_digest).read_bytes()


@skopeo
def test_pyorch_loads_what_skopeo_writes(source: ImageStore, tmp_path: Path) -> None:
    image = source.resolve(REF)
    save_images(source, [REF], tmp_path / "saved.tar")
    _skopeo("copy", f"docker-archive:{tmp_path / 'saved.tar'}", f"oci:{tmp_path / 'sk-layout'}:v9")
    _skopeo("copy", f"docker-archive:{tmp_path / 'saved.tar'}", f"docker-archive:{tmp_path / 'sk.tar'}:foo/bar:2")
    target = ImageStore(tmp_path / "target")
    [(oci_id, oci_ref)] = load_images(target, tmp_path / "sk-layout", repository="example.com/sk")
    [(docker_id, docker_ref)] = load_images(target, tmp_path / "sk.tar")
    assert (oci_ref, docker_ref) == ("example.com/sk:v9", "docker.io/foo/bar:2")
    for loaded in (oci_id, docker_id):
        assert _diff_ids(target, loaded) == _diff_ids(source, image.id)
        assert target.resolve(loaded).config.cmd == ["sh"]
    assert [i for i, r in load_images(ImageStore(tmp_path / "t2"), tmp_path / "sk-layout")] == [oci_id]
