"""Pulling a ~75 MB multi-layer image from a registry on 127.0.0.1 into an empty store.

pyorch (`pull_image`: manifest, config, concurrent verified layer downloads, each layer unpacked
into the store as soon as it is complete) against skopeo in the same run, interleaved, fresh
destination every time:

- `skopeo copy docker://… containers-storage:[overlay@ROOT+RUN]…`: download, verify and unpack
  into containers/storage, the same work `podman pull` does (podman is not installed here);
- `skopeo copy docker://… oci:DIR`: download and verify only (no unpacking), a lower bound.

The image: the Debian busybox and python3.11 trees as two layers plus two data layers (random
bytes, and text), all gzip-compressed as registries serve them. Medians over N rounds.

Usage (root, from the repository root): .venv/bin/python -m bench.bench_pull [--runs 5]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runtime.image import ImageConfig, ImageStore, Layer
from runtime.image.bootstrap import build_busybox_rootfs, build_python_rootfs
from runtime.image.layer_tar import write_layer
from runtime.image.registry import CredentialStore, Registries, pull_image, push_image
from runtime.image.registry.media import OCI_LAYER_GZIP
from tests.integration.image.registry.servers import run_registry


def _gzip_layer(store: ImageStore, tree: Path, work: Path) -> Layer:
    raw = work / "layer.tar"
    with open(raw, "wb") as f:
        write_layer(tree, f)
    diff_id = "sha256:" + hashlib.sha256(raw.read_bytes()).hexdigest()
    compressed = work / "layer.tar.gz"
    with open(raw, "rb") as src, gzip.open(compressed, "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    digest = store.ingest(lambda out: out.write(compressed.read_bytes()))
    raw.unlink()
    compressed.unlink()
    return Layer(digest, diff_id, store.blob_path(digest).stat().st_size, OCI_LAYER_GZIP)


def build_image(store: ImageStore, work: Path) -> str:
    trees = {name: work / name for name in ("busybox", "python", "random", "text")}
    for tree in trees.values():
        tree.mkdir()
    build_busybox_rootfs(trees["busybox"])
    build_python_rootfs(trees["python"])
    rng = random.Random(42)
    (trees["random"] / "data").mkdir()
    for i in range(8):  # incompressible, like the compiled parts of real images
        (trees["random"] / "data" / f"blob{i}.bin").write_bytes(rng.randbytes(6 << 20))
    words = [f"word{i}" for i in range(5000)]
    (trees["text"] / "share").mkdir()
    for i in range(40):
        (trees["text"] / "share" / f"doc{i}.txt").write_text(" ".join(rng.choice(words) for _ in range(60000)))
    with store.writing():
        layers = [_gzip_layer(store, trees[n], work) for n in ("busybox", "python", "random", "text")]
        image = store.add_image(layers, ImageConfig(cmd=["python3"]), "bench.local/pull:1")
    for tree in trees.values():
        shutil.rmtree(tree)
    return image.id


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pyorch-bench-pull-"))
    try:
        source = ImageStore(work / "source")
        build_image(source, work)
        size = source.resolve("bench.local/pull:1").size
        registries = Registries(CredentialStore(work / "auth.json", fallbacks=[]))
        with run_registry(work / "registry") as registry:
            remote = f"{registry.host}/bench/pull:1"
            push_image(source, registries, "bench.local/pull:1", remote)
            results: dict[str, list[float]] = {"pyorch pull": [], "skopeo → containers-storage": [],
                                               "skopeo → oci dir": []}
            base = ["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false", f"docker://{remote}"]

            def pyorch_pull(n: int) -> None:
                pull_image(ImageStore(work / f"p{n}"), registries, remote)

            def skopeo_storage(n: int) -> None:
                dest = f"containers-storage:[overlay@{work / f's{n}'}+{work / f'r{n}'}]bench/pull:1"
                subprocess.run([*base, dest], check=True, capture_output=True)

            def skopeo_oci(n: int) -> None:
                subprocess.run([*base, f"oci:{work / f'o{n}'}:1"], check=True, capture_output=True)

            actions = {"pyorch pull": pyorch_pull, "skopeo → containers-storage": skopeo_storage,
                       "skopeo → oci dir": skopeo_oci}
            for n in range(args.runs):
                order = list(actions)
                random.shuffle(order)
                for name in order:
                    results[name].append(timed(lambda name=name, n=n: actions[name](n)))  # type: ignore[misc]
                for leftover in work.iterdir():
                    if leftover.name[0] in "psro" and leftover.name[1:].isdigit():
                        _remove(leftover)
        print(f"image: 4 gzip layers, {size / 1e6:.1f} MB compressed; {args.runs} interleaved runs, median s")
        mine = statistics.median(results["pyorch pull"])
        for name, samples in results.items():
            median = statistics.median(samples)
            print(f"  {name:<30} {median:7.3f} s   pyorch/this = {mine / median:5.2f}x")
    finally:
        _remove(work)


def _remove(path: Path) -> None:
    """containers/storage leaves overlay mounts behind on some hosts: unmount before removing."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[4].startswith(str(path))]
    for mount in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
