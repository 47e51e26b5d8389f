"""Cache mount directories shared by steps that start at the same moment: made (and seeded) once."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from runtime.image.build.cache_mounts import cache_directory, prune_cache_mounts
from runtime.image.build.mounts import CacheSpec


def _steps_together(store: Path, spec: CacheSpec, steps: int = 4) -> tuple[int, list[Path], list[BaseException]]:
    """``steps`` threads entering the cache mount at once; (times seeded, directories seen, errors)."""
    seeded: list[int] = []
    seen: list[Path] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(steps)

    def seed(directory: Path) -> None:
        seeded.append(1)
        time.sleep(0.05)  # a slow first use: the others arrive meanwhile
        (directory / "seeded").write_text("yes")

    def step() -> None:
        try:
            barrier.wait()
            with cache_directory(store, spec, seed) as directory:
                seen.append(directory)
                assert (directory / "seeded").read_text() == "yes"
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=step) for _ in range(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(seeded), seen, errors


def test_steps_starting_together_share_one_directory_made_once(tmp_path: Path) -> None:
    for round_ in range(5):
        spec = CacheSpec("/cache", f"together-{round_}", "shared", 0o755, os.getuid(), os.getgid())
        seeded, seen, errors = _steps_together(tmp_path, spec)
        assert (errors, seeded, len(set(seen)), len(seen)) == ([], 1, 1, 4)
    assert prune_cache_mounts(tmp_path) == 5


def test_shared_users_are_inside_at_the_same_time(tmp_path: Path) -> None:
    """A step that finds the directory made goes in beside the one using it (no exclusive wait)."""
    spec = CacheSpec("/cache", "beside", "shared", 0o755, os.getuid(), os.getgid())
    inside = threading.Barrier(2, timeout=10)  # broken unless both are inside at once
    errors: list[BaseException] = []

    def step() -> None:
        try:
            with cache_directory(tmp_path, spec):
                inside.wait()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=step) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)  # the second arrives while the first is inside
    for thread in threads:
        thread.join()
    assert errors == []
