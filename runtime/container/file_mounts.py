"""Secrets and configs: small files mounted read-only from a tmpfs of the container's own.

Why a tmpfs: a secret must never land in an image layer or in the container's writable (upper)
directory, where `commit`, a backup or a copied state root would carry it. Swarm does the same;
Compose bind-mounts the host file (and ignores uid/gid/mode, docker/compose#9648) or copies
`environment:`/`content:` values into the writable layer.

Host side: `check_files` refuses bad requests before anything is made; `stage_files` writes inline
contents into the bundle (0600, root only; a restart needs them again). Container side (`mount_files`, in stage 2,
inside the container's private mount namespace): one tmpfs on ``<bundle>/files``, each file written
there at its target path with its owner and mode, the tmpfs made read-only, then bound: targets
under /run/secrets as one directory (so nothing of them touches the image's tree), any other target
file by file. The tmpfs lives as long as the namespace holds those binds; the host never sees it.
Standard library only: this runs in the shim's forked children.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from pathlib import Path

from runtime.container.runconfig import FileMount
from runtime.container.spec import FileSpec
from runtime.errors import ConfigurationError
from runtime.linux import syscalls as sc

SECRETS_DIR = "/run/secrets"
_MOUNT_POINT = "files"      # <bundle>/files: where stage 2 mounts the tmpfs
_CONTENTS = "file-contents"  # <bundle>/file-contents/<n>: inline values, kept for restarts
_MAX_TOTAL = 64 << 20       # a sanity bound: these are secrets and configs, not data


class FileMountError(ConfigurationError):
    """A secret or config that cannot be mounted."""


def check_target(target: str) -> str:
    if not target.startswith("/") or ".." in target.split("/") or target.rstrip("/") in ("", SECRETS_DIR):
        raise FileMountError(f"secret/config target {target!r} must be an absolute file path without '..'")
    return posixpath.normpath(target)


def check_files(files: list[FileMount]) -> None:
    """Refuse what cannot be mounted, before anything is made: bad targets, two files at one
    target, impossible owners or modes, a host file that is missing or not a regular file."""
    targets: set[str] = set()
    total = 0
    for file in files:
        target = check_target(file.target)
        if target in targets:
            raise FileMountError(f"two secrets/configs have the target {target}")
        targets.add(target)
        if not 0 <= file.mode <= 0o7777 or file.uid < 0 or file.gid < 0:
            raise FileMountError(f"{target}: invalid mode {file.mode:o} or owner {file.uid}:{file.gid}")
        if file.content is not None:
            total += len(file.content.encode())
            continue
        try:
            info = os.stat(file.source)
        except OSError as exc:
            raise FileMountError(f"{target}: cannot read {file.source}: {exc.strerror}") from exc
        if not os.path.isfile(file.source):
            raise FileMountError(f"{target}: {file.source} is not a regular file")
        total += info.st_size
    if total > _MAX_TOTAL:
        raise FileMountError(f"secrets and configs hold {total} bytes; at most {_MAX_TOTAL} per container")


def stage_files(files: list[FileMount], bundle: Path) -> list[FileSpec]:
    """What stage 2 mounts; inline contents are written under the bundle (0600) for every start."""
    specs: list[FileSpec] = []
    for index, file in enumerate(files):
        source = file.source
        if file.content is not None:
            store = bundle / _CONTENTS
            store.mkdir(mode=0o700, exist_ok=True)
            path = store / str(index)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(file.content.encode())
            source = str(path)
        specs.append(FileSpec(source=source, target=check_target(file.target), uid=file.uid, gid=file.gid,
                              mode=file.mode))
    if specs:
        (bundle / _MOUNT_POINT).mkdir(mode=0o700, exist_ok=True)
    return specs


def mount_files(bundle_dir: str, files: list[FileSpec], bind: Callable[[str, str], None]) -> None:
    """Stage 2 (before pivot_root): fill a fresh tmpfs and bind its files to their targets;
    ``bind(host_path, target)`` binds read-only into the root filesystem (refusing symlinks)."""
    if not files:
        return
    contents = []
    for spec in files:
        with open(spec.source, "rb") as f:
            contents.append(f.read())
    staging = os.path.join(bundle_dir, _MOUNT_POINT)
    size = sum(len(c) + 4096 for c in contents) + (64 << 10)
    flags = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
    sc.mount("tmpfs", staging, "tmpfs", flags, f"size={size},mode=755")
    for spec, data in zip(files, contents, strict=True):
        path = staging + spec.target
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data)
            os.fchown(fd, spec.uid, spec.gid)
            os.fchmod(fd, spec.mode)
        finally:
            os.close(fd)
    sc.mount(None, staging, None, sc.MS_REMOUNT | sc.MS_RDONLY | flags, f"size={size},mode=755")
    under_secrets = [s for s in files if s.target.startswith(SECRETS_DIR + "/")]
    if under_secrets:
        bind(staging + SECRETS_DIR, SECRETS_DIR)
    for spec in files:
        if spec not in under_secrets:
            bind(staging + spec.target, spec.target)
