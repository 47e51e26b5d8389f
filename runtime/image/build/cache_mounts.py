"""``RUN --mount=type=cache`` directories: kept per cache id under the image store, between builds.

Layout under ``images/build-mounts/cache/<sha256 of the id>/``: ``id`` (the id as written),
``shared/`` (the directory every ``shared`` and ``locked`` user mounts), ``private-N/`` (extra copies
for ``private`` users that found the others busy), and one ``<dir>.lock`` beside each. Locks are
``flock``s held for the whole step:

- ``shared``: a shared lock, so any number of steps (of this build or others) use it at once (the
  directory itself is made under an exclusive lock first, by one of them);
- ``locked``: an exclusive lock on ``shared/``: one step at a time, the others wait (BuildKit's
  "pauses the second writer");
- ``private``: the first directory whose exclusive lock is free, or a new ``private-N``.

A new directory gets the spec's owner and mode, and a copy of ``from``/``source`` when given.
`prune_cache_mounts` removes every directory no step holds (``image prune``, ``builder prune``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from runtime.image.build.mounts import CacheSpec

Seed = Callable[[Path], None]  # fills a new cache directory


def cache_root(store_root: Path) -> Path:
    return store_root / "build-mounts" / "cache"


@contextlib.contextmanager
def cache_directory(store_root: Path, spec: CacheSpec, seed: Seed | None = None) -> Iterator[Path]:
    """The host directory to mount for ``spec``, locked as its sharing mode says, for the ``with``."""
    home = cache_root(store_root) / hashlib.sha256(spec.id.encode()).hexdigest()[:32]
    home.mkdir(parents=True, exist_ok=True)
    (home / "id").write_text(spec.id)
    if spec.sharing == "private":
        with _private(home, spec, seed) as directory:
            yield directory
        return
    mode = fcntl.LOCK_EX if spec.sharing == "locked" else fcntl.LOCK_SH
    lock, directory = home / "shared.lock", home / "shared"
    while True:
        if not directory.is_dir():
            # Made by one step only, even among shared users. Nobody holds the lock on a directory
            # that does not exist yet, so this waits only for another step making it.
            with _locked(lock, fcntl.LOCK_EX):
                _ready(directory, spec, seed)
        with _locked(lock, mode):
            if directory.is_dir():  # not pruned between the two locks
                yield directory
                return


@contextlib.contextmanager
def _private(home: Path, spec: CacheSpec, seed: Seed | None) -> Iterator[Path]:
    for index in range(1000):
        name = "shared" if index == 0 else f"private-{index}"
        lock = open(home / f"{name}.lock", "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            yield _ready(home / name, spec, seed)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
        return
    raise OSError(f"no free private copy of cache {spec.id!r}")


@contextlib.contextmanager
def _locked(path: Path, mode: int) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, mode)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _ready(directory: Path, spec: CacheSpec, seed: Seed | None) -> Path:
    """Make the directory the first time (under its exclusive lock: no one else is making it)."""
    if directory.is_dir():
        return directory
    staging = directory.with_name(f".new-{directory.name}-{os.getpid()}-{secrets.token_hex(4)}")
    staging.mkdir()
    try:
        if seed is not None:
            seed(staging)
        os.chown(staging, spec.uid, spec.gid)
        os.chmod(staging, spec.mode)
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def prune_cache_mounts(store_root: Path) -> int:
    """Remove every cache directory no running step holds; returns how many went."""
    removed = 0
    root = cache_root(store_root)
    if not root.is_dir():
        return 0
    for home in sorted(root.iterdir()):
        for entry in sorted(home.iterdir()):
            if entry.name.startswith(".new-"):
                shutil.rmtree(entry, ignore_errors=True)  # left by a crashed first use
                continue
            if not entry.is_dir():
                continue
            with open(home / f"{entry.name}.lock", "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # in use by a step right now
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        with contextlib.suppress(OSError):
            if not any(p.is_dir() for p in home.iterdir()):
                shutil.rmtree(home)
    return removed
