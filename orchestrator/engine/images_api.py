"""The engine's image and registry routes: pull, push, remove, inspect, prune, save, load, login.

Pulls and pushes stream their progress as JSON lines (one `TransferEvent` each, then a final
``{"image": …}`` or ``{"error": …}``), as Docker's API does, so the CLI can draw progress bars.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.engine.route_handler import Streamer as Handler
from orchestrator.errors import PyorchError
from runtime.errors import RuntimeFailure
from runtime.image import Image, ImageConfig, ImageStore
from runtime.image.reference import parse
from runtime.image.registry import Credentials, Registries, parse_platform, pull_image
from runtime.image.registry.client import RegistryClient
from runtime.image.registry.endpoint import endpoint_for

# Push (with zstandard), save and load (tarfile), the base-image bootstrap and the build's cache
# mounts are imported by their own routes: the long-lived engine holds them in memory only once
# asked (docs/engine.md, "Fleets of hundreds"; tests/unit/engine/test_engine_imports.py).


@dataclass(frozen=True)
class ImageRoutes:
    images: ImageStore
    registries: Callable[[], Registries]   # read afresh per request: `login` changes them
    in_use: Callable[[], set[str]]          # image ids of every container, running or not: kept

    def handle(self, handler: Handler, method: str, parts: list[str], query: dict[str, list[str]]) -> bool:
        """Serve the request if it is one of ours; False lets the caller answer 404."""
        store = self.images
        match method, parts:
            case "POST", ["v1", "images", "pull"]:
                body = handler.body()
                platform = parse_platform(body["platform"]) if body.get("platform") else None
                parse(body["reference"])  # a malformed name fails before the stream starts
                stream_work(handler, lambda listener: {"image": image_row(pull_image(
                    store, self.registries(), body["reference"], platform, listener))})
            case "POST", ["v1", "images", "push"]:
                body = handler.body()
                store.resolve(body["reference"])
                if body.get("target"):
                    parse(body["target"])
                compression = str(body.get("compression") or "gzip")
                from runtime.image.registry.compress import COMPRESSIONS
                from runtime.image.registry.push import push_image

                if compression not in COMPRESSIONS:
                    raise PyorchError(f"compression {compression!r}: want one of {', '.join(COMPRESSIONS)}")
                stream_work(handler, lambda listener: {"digest": push_image(
                    store, self.registries(), body["reference"], body.get("target") or None, listener,
                    compression=compression)})
            case "POST", ["v1", "images", "remove"]:
                body = handler.body()
                handler.reply(200, {"untagged": remove(store, body["reference"], self.in_use(),
                                                        bool(body.get("force")))})
            case "GET", ["v1", "images", "inspect"]:
                handler.reply(200, [inspect(store, r) for r in query.get("ref", [])])
            case "POST", ["v1", "images", "prune"]:
                body = handler.body()
                handler.reply(200, prune(store, self.in_use(), bool(body.get("all"))))
            case "POST", ["v1", "images", "save"]:
                body = handler.body()
                from runtime.image.archive import save_images

                ids = save_images(store, list(body["references"]), Path(body["output"]),
                                  body.get("format") or "tar")
                handler.reply(200, {"ids": ids})
            case "POST", ["v1", "images", "load"]:
                body = handler.body()
                from runtime.image.archive import load_images

                loaded = load_images(store, Path(body["source"]), body.get("repository") or None)
                handler.reply(200, {"loaded": [{"id": i, "reference": r} for i, r in loaded]})
            case "GET", ["v1", "images"]:
                handler.reply(200, [_listed(i) for i in store.list()])
            case "POST", ["v1", "images", "import"]:
                body = handler.body()
                config = ImageConfig(env=body.get("env") or [], entrypoint=body.get("entrypoint"),
                                     cmd=body.get("cmd"), working_dir=body.get("working_dir") or "",
                                     user=body.get("user") or "", exposed_ports=[], labels={},
                                     stop_signal=None, volumes=[], healthcheck=None)
                handler.reply(200, _listed(store.import_rootfs(Path(body["source"]), body["reference"], config)))
            case "POST", ["v1", "images", "bootstrap"]:
                from runtime.image.bootstrap import DEFAULT_BASE_IMAGES, ensure_base_images

                names = handler.body().get("images") or list(DEFAULT_BASE_IMAGES)
                handler.reply(200, {"images": ensure_base_images(store, [str(n) for n in names])})
            case "POST", ["v1", "registry", "login"]:
                body = handler.body()
                handler.reply(200, login(self.registries(), body["registry"], body["username"], body["password"]))
            case "POST", ["v1", "registry", "logout"]:
                body = handler.body()
                removed = self.registries().credentials.remove(body["registry"])
                handler.reply(200, {"removed": removed, "registry": body["registry"]})
            case _:
                return False
        return True


def _listed(image: Image) -> dict[str, Any]:
    """A row of `GET /v1/images` (`pyorch images`)."""
    return {"id": image.id, "references": list(image.references), "size": image.size}


def image_row(image: Image) -> dict[str, Any]:
    return {"id": image.id, "references": list(image.references), "size": image.size,
            "manifest_digest": image.manifest_digest}


def inspect(store: ImageStore, reference: str) -> dict[str, Any]:
    image = store.resolve(reference)
    config = store.read_json(image.id)
    return {"Id": image.id, "RepoTags": [r for r in image.references if "@" not in r],
            "RepoDigests": [r for r in image.references if "@" in r], "ManifestDigest": image.manifest_digest,
            "Size": image.size, "Architecture": config.get("architecture"), "Os": config.get("os"),
            "Variant": config.get("variant"), "Created": config.get("created"), "Config": config.get("config") or {},
            "RootFS": config.get("rootfs") or {}, "Manifest": store.read_json(image.manifest_digest)}


def remove(store: ImageStore, reference: str, in_use: set[str], force: bool) -> list[str]:
    """`rmi`: refused for an image a container uses; with ``force`` its name goes and it stays dangling
    (so `prune` still keeps its layers while the container exists), as Docker does."""
    if force and store.resolve(reference).id in in_use:
        return store.untag(reference)
    return store.remove(reference, in_use)


def prune(store: ImageStore, in_use: set[str], all_unused: bool) -> dict[str, Any]:
    """Docker's `image prune`: untagged images; with ``all_unused`` every image no container uses."""
    untagged: list[str] = []
    if all_unused:
        for image in store.list():
            if image.id not in in_use:
                untagged += store.remove(image.id, in_use)
    removed = store.prune(keep_ids=in_use)
    from runtime.image.build.cache_mounts import prune_cache_mounts
    # RUN --mount=type=cache directories live under the store too (docs/build.md)
    return {"untagged": untagged, "deleted_blobs": removed, "cache_mounts": prune_cache_mounts(store.root)}


def login(registries: Registries, registry: str, username: str, password: str) -> dict[str, Any]:
    """Check the credentials against the registry first, as `docker login` does, then store them."""
    if not username or not password:
        raise PyorchError("login needs a user name and a password")
    credentials = Credentials(username, password)
    with RegistryClient(endpoint_for(registry, registries.insecure), credentials) as client:
        client.ping()
    registries.credentials.save(registry, credentials)
    return {"registry": registry, "stored_in": str(registries.credentials.own_file)}


def stream_work(handler: Handler, work: Callable[[Callable[[Any], None]], dict[str, Any]],
                thread_name: str = "image-transfer") -> None:
    """Run ``work`` in a thread; write its events (anything with ``to_json``) as JSON lines, then its
    result or its error. Pulls, pushes and builds stream this way."""
    events: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def run() -> None:
        try:
            events.put(work(lambda e: events.put(e.to_json())))
        except (PyorchError, RuntimeFailure, ValueError) as exc:
            events.put({"error": str(exc), "kind": type(exc).__name__})
        except Exception as exc:  # reported to the client, not swallowed
            events.put({"error": f"internal error: {type(exc).__name__}: {exc}"})
        finally:
            events.put(None)

    threading.Thread(target=run, name=thread_name, daemon=True).start()
    handler.stream_start()
    while (item := events.get()) is not None:
        handler.wfile.write(json.dumps(item).encode() + b"\n")
        handler.wfile.flush()
