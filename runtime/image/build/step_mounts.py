"""The host side of a RUN step's ``--mount``s: directories and files to mount, for the step's length.

- cache: the cache id's directory under the image store (`cache_mounts.py`), locked as shared,
  locked or private;
- secret: the value written to a file in a private (0700) directory of the run root with the
  spec's owner and mode, mounted read-only, removed when the step ends (never in the store, the
  image, its history or the cache key); ``env=`` puts it in the step's environment too;
- bind: the source tree (the context, minus .dockerignore, or a stage's or image's files) mounted
  read-only; with ``rw`` a scratch copy, thrown away after;
- tmpfs: a tmpfs of the given size.

The targets come back too: mount points made only for the step are left out of its layer.
"""

from __future__ import annotations

import contextlib
import os
import secrets as random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runtime.container.runconfig import Mount
from runtime.image.build.cache_mounts import cache_directory
from runtime.image.build.errors import BuildError
from runtime.image.build.mounts import BindSpec, CacheSpec, MountSpec, SecretSpec, TmpfsSpec
from runtime.image.build.sources import ContextTree, Ownership, SourceTree, copy_into

TreeOf = Callable[[str], SourceTree]  # --mount from=: "" = the build context


@dataclass
class StepMounts:
    mounts: list[Mount] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    targets: set[str] = field(default_factory=set)  # in-image paths the mounts cover


@contextlib.contextmanager
def prepared_mounts(specs: list[MountSpec], *, store_root: Path, secret_root: Path, secrets: dict[str, bytes],
                    tree_of: TreeOf) -> Iterator[StepMounts]:
    out = StepMounts()
    with contextlib.ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(dir=store_root, prefix=".build-mounts-"))
        stack.callback(shutil.rmtree, scratch, True)
        for index, spec in enumerate(specs):
            if isinstance(spec, CacheSpec):
                seed = _seeder(tree_of(spec.origin), spec.source) if spec.origin or spec.source else None
                host = stack.enter_context(cache_directory(store_root, spec, seed))
                out.mounts.append(Mount("bind", spec.target, str(host), read_only=spec.read_only))
            elif isinstance(spec, SecretSpec):
                value = secrets.get(spec.id)
                if value is None:
                    if spec.required:
                        raise BuildError(f"secret {spec.id!r} is required but was not given (Compose build.secrets, "
                                         "or --secret id=…)")
                    continue
                if spec.env:
                    out.env[spec.env] = value.decode(errors="replace")
                if spec.target:
                    host_file = stack.enter_context(_secret_file(secret_root, value, spec))
                    out.mounts.append(Mount("bind", spec.target, str(host_file), read_only=True,
                                            create_host_path=False))
            elif isinstance(spec, BindSpec):
                host = _bind_source(tree_of(spec.origin), spec, scratch / str(index))
                out.mounts.append(Mount("bind", spec.target, str(host), read_only=not spec.writable,
                                        create_host_path=False))
            elif isinstance(spec, TmpfsSpec):
                out.mounts.append(Mount("tmpfs", spec.target, tmpfs_size=spec.size))
            if isinstance(spec, SecretSpec) and not spec.target:
                continue
            out.targets.add(spec.target if not isinstance(spec, SecretSpec) else str(spec.target))
        yield out


def _seeder(tree: SourceTree, source: str) -> Callable[[Path], None]:
    def seed(directory: Path) -> None:
        if tree.entry(tree.canonical(source)) is None:
            raise BuildError(f"--mount type=cache: source {source or '/'!r} not found")
        copy_into(tree, tree.canonical(source), directory, Ownership())
    return seed


def _bind_source(tree: SourceTree, spec: BindSpec, scratch: Path) -> Path:
    canonical = tree.canonical(spec.source)
    host = tree.entry(canonical)
    if host is None:
        raise BuildError(f"--mount type=bind: source {spec.source or '/'!r} not found")
    if not spec.writable and isinstance(tree, ContextTree) and not tree.ignore.patterns:
        return host  # nothing hidden from the build: the context itself, read-only
    copy_into(tree, canonical, scratch, Ownership())
    return scratch


@contextlib.contextmanager
def _secret_file(root: Path, value: bytes, spec: SecretSpec) -> Iterator[Path]:
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    directory = root / random.token_hex(8)
    directory.mkdir(mode=0o700)
    path = directory / "secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        os.chown(path, spec.uid, spec.gid)
        os.chmod(path, spec.mode)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
