"""Builds: stages side by side, a real apt-get on the Debian base, and compressed pushes.

1. Two independent stages, each `RUN sleep 2`, and a last stage copying from both: the build's
   wall time against the sum of the two RUN steps' own durations (from the build's step records),
   and against one stage running both sleeps one after the other.
2. `RUN apt-get update && apt-get install -y hello` on pyorch.local/debian (through the build
   network, from the host's configured mirror): a build without the cache, then a cached rebuild.
3. Pushing the Debian image to Debian's docker-registry on 127.0.0.1 with each compression: bytes
   of its layer blobs on the wire, and the push's time (the first push of each compresses, a second
   push of the same image to another name reuses the compressed blob).

Medians over N rounds (numbers only, no thresholds: the machine is shared).

Usage (root, from the repository root): .venv/bin/python -m bench.bench_build [--runs 3]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from runtime.container.runtime import ContainerRuntime
from runtime.gc import purge_instance
from runtime.image.bootstrap import ensure_base_images
from runtime.image.build import Builder, BuildRequest
from runtime.image.debian import ensure_debian_image
from runtime.image.registry import CredentialStore, Registries, push_image
from runtime.layout import HostLayout
from tests.integration.image.registry.servers import run_registry

PARALLEL = """\
FROM pyorch.local/busybox:latest AS left
RUN sleep 2 && echo left > /out
FROM pyorch.local/busybox:latest AS right
RUN sleep 2 && echo right > /out
FROM pyorch.local/busybox:latest
COPY --from=left /out /left
COPY --from=right /out /right
"""
SERIAL = "FROM pyorch.local/busybox:latest\nRUN sleep 2 && echo left > /left\nRUN sleep 2 && echo right > /right\n"


def _context(root: Path, text: str) -> Path:
    context = root / secrets.token_hex(4)
    context.mkdir()
    (context / "Dockerfile").write_text(text)
    return context


def _timed(builder: Builder, request: BuildRequest) -> tuple[float, list[float]]:
    started = time.perf_counter()
    result = builder.build(request)
    wall = time.perf_counter() - started
    return wall, [r.finished - r.started for r in result.records if "RUN" in r.name]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    layout = HostLayout(state_root=work / "state", run_root=work / "run", instance="bb" + secrets.token_hex(2))
    runtime = ContainerRuntime(layout)
    try:
        ensure_base_images(runtime.images)
        builder = Builder(runtime)
        walls, sums, serial = [], [], []
        for _ in range(args.runs):
            wall, runs = _timed(builder, BuildRequest(context=_context(work, PARALLEL), no_cache=True))
            walls.append(wall)
            sums.append(sum(runs))
            serial.append(_timed(builder, BuildRequest(context=_context(work, SERIAL), no_cache=True))[0])
        print(f"stages side by side: wall {statistics.median(walls):.2f} s, the two RUN steps "
              f"{statistics.median(sums):.2f} s together ({statistics.median(walls) / statistics.median(sums):.2f}x); "
              f"one stage, one after the other: {statistics.median(serial):.2f} s")

        debian = ensure_debian_image(runtime.images)
        apt = _context(work, f"FROM {debian}\nRUN apt-get update && apt-get install -y --no-install-recommends hello "
                             "&& rm -rf /var/lib/apt/lists/*\n")
        cold, cached = [], []
        for _ in range(args.runs):
            cold.append(_timed(builder, BuildRequest(context=apt, no_cache=True))[0])
            cached.append(_timed(builder, BuildRequest(context=apt))[0])
        print(f"apt-get install hello: {statistics.median(cold):.2f} s without the cache, "
              f"{statistics.median(cached):.2f} s cached")

        registries = Registries(CredentialStore(work / "auth.json", fallbacks=[]))
        image = runtime.images.resolve(debian)
        plain = sum(path.stat().st_size for path in (runtime.images.blob_path(d) for d in _layers(runtime, image.id)))
        with run_registry(work / "registry") as registry:
            for compression in ("none", "gzip", "zstd"):
                first = time.perf_counter()
                digest = push_image(runtime.images, registries, debian, f"{registry.host}/b/{compression}:1",
                                    compression=compression)
                first_s = time.perf_counter() - first
                again = time.perf_counter()
                push_image(runtime.images, registries, debian, f"{registry.host}/b/{compression}-again:1",
                           compression=compression)
                again_s = time.perf_counter() - again
                size = sum(layer["size"] for layer in runtime.images.read_json(digest)["layers"])
                print(f"push {compression}: layers {size / 1e6:.1f} MB ({size / plain:.2f} of plain), "
                      f"first push {first_s:.2f} s, another name {again_s:.2f} s")
    finally:
        runtime.shim.close()
        purge_instance(layout)
        shutil.rmtree(work, ignore_errors=True)


def _layers(runtime: ContainerRuntime, image_id: str) -> list[str]:
    image = runtime.images.resolve(image_id)
    return [str(layer["digest"]) for layer in runtime.images.read_json(image.manifest_digest)["layers"]]


if __name__ == "__main__":
    main()
