"""``pyorch.local/debian:<codename>``: a minimal Debian made by debootstrap from the host's own mirror.

Three steps, each a separate function so tests and callers can reuse them:

1. `package_tarball`: ``debootstrap --make-tarball`` downloads the minbase package set from the
   mirror the host's apt sources name (`apt_sources.debian_mirror`) into one tarball, cached in
   the image store (``<store>/debootstrap/``). A second bootstrap downloads nothing.
2. `build_debian_rootfs`: ``debootstrap --unpack-tarball`` installs those packages offline with
   ``SOURCE_DATE_EPOCH`` set to the suite's Release date, then `_finish` makes the tree the same
   on every run: it drops what records the build itself (logs, ldconfig's aux-cache, apt's package
   lists and downloaded .debs, the host's hostname and resolv.conf, /dev), writes the image's apt
   sources (the host's mirrors) and container-friendly apt/dpkg settings, and clamps every mtime
   newer than the epoch to it. The layer tar is written in name order, so the same packages give
   the same layer digest and image id.
3. `ensure_debian_image`: 1 and 2, imported as one layer, unless the image exists already.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.image.apt_sources import (
    APT_DIR,
    Mirror,
    debian_mirror,
    host_codename,
    host_sources,
    image_sources_list,
)
from runtime.image.config import ImageConfig
from runtime.image.errors import ImageError, ImageNotFound
from runtime.image.store import ImageStore

DEBIAN_REPOSITORY = "pyorch.local/debian"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CACHE_DIR = "debootstrap"
_TOOL_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}

# Written by the build itself, different on every run (debuerreotype drops the same files).
_BUILD_RECORDS = (
    "var/log/dpkg.log", "var/log/alternatives.log", "var/log/bootstrap.log", "var/log/apt/history.log",
    "var/log/apt/term.log", "var/log/apt/eipp.log.xz", "var/cache/ldconfig/aux-cache", "run/mount/utab",
    "etc/hostname", "etc/resolv.conf", "etc/machine-id",
)
# Emptied, kept as directories: the runtime mounts /dev; apt refills the rest on `apt-get update`.
_EMPTIED = ("dev", "tmp", "var/lib/apt/lists", "var/cache/apt/archives", "var/cache/apt")

# Services must not start while a build installs them (there is no init to stop them again).
_POLICY_RC_D = """#!/bin/sh
# pyorch: package scripts run during image builds, where no service should start.
exit 101
"""
_APT_CONF = {
    # Every install's downloads would otherwise stay in the layer that made them.
    "pyorch-clean": ('DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
                     '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
                     'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
                     '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
                     'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'),
    "pyorch-no-languages": 'Acquire::Languages "none";\n',
    "pyorch-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
}
# A build's layer is thrown away on failure anyway: fsync after every file only slows installs.
_DPKG_CFG = {"pyorch-unsafe-io": "force-unsafe-io\n"}


@dataclass(frozen=True)
class DebianPlan:
    """What to bootstrap: the host's release and architecture, from the host's mirror."""

    suite: str
    arch: str
    mirror: Mirror
    sources_list: str   # the image's /etc/apt/sources.list

    @property
    def reference(self) -> str:
        return f"{DEBIAN_REPOSITORY}:{self.suite}"

    @property
    def cache_name(self) -> str:
        digest = hashlib.sha256(f"{self.mirror.uri} {self.suite} {self.arch}".encode()).hexdigest()[:12]
        return f"{self.suite}-{self.arch}-minbase-{digest}.tgz"


def host_plan(apt_dir: Path = APT_DIR, os_release: Path = Path("/etc/os-release")) -> DebianPlan:
    suite = host_codename(os_release)
    sources = host_sources(apt_dir)
    arch = _run(["dpkg", "--print-architecture"], "dpkg --print-architecture").strip()
    return DebianPlan(suite=suite, arch=arch, mirror=debian_mirror(sources, suite),
                      sources_list=image_sources_list(sources, suite))


def ensure_debian_image(store: ImageStore, plan: DebianPlan | None = None, cache_dir: Path | None = None) -> str:
    """The Debian image's reference, made first if it is missing (cheap when it exists)."""
    plan = plan or host_plan()
    try:
        store.resolve(plan.reference)
        return plan.reference
    except ImageNotFound:
        pass
    packages = package_tarball(cache_dir or store.root / CACHE_DIR, plan)
    with tempfile.TemporaryDirectory(dir=store.root, prefix=".build-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        build_debian_rootfs(rootfs, plan, packages)
        store.import_rootfs(rootfs, plan.reference, ImageConfig(env=[PATH_ENV], cmd=["bash"]))
    return plan.reference


def package_tarball(cache_dir: Path, plan: DebianPlan) -> Path:
    """The minbase packages of ``plan`` as debootstrap's tarball, downloaded once into ``cache_dir``."""
    cached = cache_dir / plan.cache_name
    if cached.is_file():
        return cached
    _debootstrap_binary()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        partial = Path(tmp) / "packages.tgz"
        _run(["debootstrap", "--variant=minbase", f"--arch={plan.arch}", *_keyring(plan.mirror),
              f"--make-tarball={partial}", plan.suite, str(Path(tmp) / "work"), plan.mirror.uri],
             f"debootstrap --make-tarball from {plan.mirror.uri}")
        os.replace(partial, cached)  # concurrent downloads: the last one wins, both are whole
    return cached


def build_debian_rootfs(dest: Path, plan: DebianPlan, packages: Path) -> int:
    """Install ``packages`` into the new directory ``dest``, offline; returns the epoch used."""
    _debootstrap_binary()
    epoch = release_epoch(packages)
    started = time.time()
    _run(["debootstrap", "--variant=minbase", f"--arch={plan.arch}", *_keyring(plan.mirror),
          f"--unpack-tarball={packages.resolve()}", plan.suite, str(dest), plan.mirror.uri],
         "debootstrap --unpack-tarball", extra_env={"SOURCE_DATE_EPOCH": str(epoch)})
    _finish(dest, plan, epoch, started)
    return epoch


def release_epoch(packages: Path) -> int:
    """The ``Date:`` of the suite's Release file inside debootstrap's tarball: the package set's date."""
    try:
        with tarfile.open(packages, "r|*") as tarball:
            for member in tarball:
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and "/lists/" in f"/{member.name}" and name.endswith(("_InRelease", "_Release")):
                    content = tarball.extractfile(member)
                    if content is None:
                        continue
                    for line in content.read().decode(errors="replace").splitlines():
                        if line.startswith("Date:"):
                            return int(email.utils.parsedate_to_datetime(line[5:].strip()).timestamp())
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise ImageError(f"cannot read the Release date from {packages}: {exc}") from exc
    raise ImageError(f"{packages} holds no Release file with a Date: (not a debootstrap tarball?)")


def _finish(root: Path, plan: DebianPlan, epoch: int, started: float) -> None:
    for relative in _BUILD_RECORDS:
        (root / relative).unlink(missing_ok=True)
    for relative in _EMPTIED:
        directory = root / relative
        if directory.is_dir():
            for entry in directory.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
    for sub in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "etc/apt/sources.list").write_text(plan.sources_list)
    for entry in (root / "etc/apt/sources.list.d").glob("*"):
        entry.unlink()
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text(_POLICY_RC_D)
    policy.chmod(0o755)
    for name, text in _APT_CONF.items():
        (root / "etc/apt/apt.conf.d" / name).write_text(text)
    for name, text in _DPKG_CFG.items():
        (root / "etc/dpkg/dpkg.cfg.d" / name).write_text(text)
    os.chown(root, 0, 0)
    root.chmod(0o755)
    _clamp_mtimes(root, epoch, started)


def _clamp_mtimes(root: Path, epoch: int, started: float) -> None:
    """Files the packages brought keep their own (older) dates; whatever the build wrote gets the epoch.

    A file is the build's when it is newer than the epoch or not older than the build's start
    (a host clock behind the mirror's date must not let build-time dates through)."""
    threshold = min(float(epoch), started - 1)
    for directory, dirs, files in os.walk(root, topdown=False):
        for name in [*files, *dirs]:
            path = os.path.join(directory, name)
            if os.lstat(path).st_mtime > threshold:
                os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))


def _keyring(mirror: Mirror) -> list[str]:
    return [f"--keyring={mirror.keyring}"] if mirror.keyring and Path(mirror.keyring).is_file() else []


def _debootstrap_binary() -> None:
    if shutil.which("debootstrap", path=_TOOL_ENV["PATH"]) is None:
        raise ImageError("debootstrap is missing: install it (apt-get install debootstrap, or scripts/setup.sh)")


def _run(args: list[str], what: str, extra_env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False,
                          env={**_TOOL_ENV, **(extra_env or {})})
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-3000:]
        raise ImageError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout
