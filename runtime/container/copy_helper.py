"""`cp`'s worker: a short-lived process inside a container's mount namespace that reports what a
path is, writes it as a tar stream, or extracts one — Docker's chrooted archive, done by entering
the namespace (so every path, symlink and mount resolves as the container sees it and nothing can
lead out of its root).

Run by runtime/container/copy.py as ``python -I -S`` with its socket as stdin and stdout:

    stat WHERE PATH FOLLOW              → one JSON line: {"exists", "dir", "parent_dir"} or {"error"}
    archive WHERE PATH ARCNAME FOLLOW   → a JSON line ({"ok": true} or {"error"}), then the tar
    extract WHERE DIR KEEP_OWNERS       ← a tar; → one JSON line when done ({"ok": true} or {"error"})

WHERE is ``pid:N`` for a running container (its PID 1's mount namespace is entered) or
``bundle:DIR`` for a stopped one: the worker makes a mount namespace of its own, mounts the
container's root (its image layers under its own upper directory, as a start would) and its bind
mounts and volumes there, and changes root into it, as Docker mounts a stopped container's root
for `docker cp`. The mounts go with the worker's namespace when it exits: nothing to clean up.

Owners are numbers only, and no user database is consulted after entering the namespace: looking
a name up would load the container's NSS modules into this root process (CVE-2019-14271).
Without KEEP_OWNERS (`cp` without `-a`) what is extracted belongs to the container's root, as
with `docker cp`. Standard library only.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tarfile
from typing import IO, Any

from runtime.linux import syscalls as sc

tarfile.pwd = None  # type: ignore[attr-defined]  # no name lookups: numbers only (see above)
tarfile.grp = None  # type: ignore[attr-defined]


def main(argv: list[str]) -> None:
    out = sys.stdout.buffer
    try:
        command, where, rest = argv[0], argv[1], argv[2:]
        _enter(where)
        if command == "stat":
            _say(out, _stat(rest[0], rest[1] == "1"))
        elif command == "archive":
            _archive(out, rest[0], rest[1], rest[2] == "1")
        elif command == "extract":
            _extract(sys.stdin.buffer, rest[0], rest[1] == "1")
            _say(out, {"ok": True})
        else:
            raise ValueError(f"unknown command {command!r}")
    except Exception as exc:  # the client reads the error: a traceback helps nobody here
        _say(out, {"error": _message(exc)})
        sys.exit(1)


def _enter(where: str) -> None:
    kind, _, value = where.partition(":")
    if kind == "pid":
        fd = os.open(f"/proc/{int(value)}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.setns(fd, sc.CLONE_NEWNS)  # root and cwd become the namespace's root
        finally:
            os.close(fd)
    elif kind == "bundle":
        _mount_stopped(value)
    else:
        raise ValueError(f"unknown container location {where!r}")
    os.chdir("/")


def _mount_stopped(bundle: str) -> None:
    """The stopped container's root as its next start would see it, in a namespace of our own."""
    with open(os.path.join(bundle, "spec.json"), "rb") as f:
        spec = json.load(f)
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)  # nothing of ours propagates to the host
    rootfs = os.path.join(bundle, "rootfs")
    lower = ":".join(spec["lower_dirs"])
    upper, work = os.path.join(bundle, "upper"), os.path.join(bundle, "work")
    sc.mount("overlay", rootfs, "overlay", 0, f"lowerdir={lower},upperdir={upper},workdir={work}")
    binds = [(b, _mount_point(rootfs, b["target"], os.path.isdir(b["source"])))
             for b in spec.get("binds") or [] if os.path.lexists(b["source"])]  # a gone source: the start says so
    if spec.get("read_only_rootfs"):  # `read_only: true`: a copy into its root fails, as in the running one
        sc.mount(rootfs, rootfs, None, sc.MS_BIND)
        sc.mount(None, rootfs, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
    for bind, target in binds:
        sc.mount(bind["source"], target, None, sc.MS_BIND | sc.MS_REC)
        if bind.get("read_only"):
            sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
    os.chroot(rootfs)


def _mount_point(rootfs: str, target: str, directory: bool) -> str:
    """``target`` under ``rootfs``, made as a start makes it; a symlink on the way is refused (the
    container's files must not send a mount elsewhere, as in child.py)."""
    path = rootfs
    for part in [p for p in target.split("/") if p and p != "."]:
        if part == "..":
            raise ValueError(f"mount target {target!r} escapes the root filesystem")
        path = os.path.join(path, part)
        if os.path.islink(path):
            raise ValueError(f"mount target {target!r}: {path[len(rootfs):]} is a symlink")
    if directory:
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif not os.path.exists(path):
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    return path


def _say(out: IO[bytes], message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode() + b"\n")
    out.flush()


def _message(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def _stat(path: str, follow: bool) -> dict[str, Any]:
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return {"exists": False, "dir": False, "parent_dir": os.path.isdir(os.path.dirname(path.rstrip("/")) or "/")}
    return {"exists": True, "dir": stat.S_ISDIR(st.st_mode), "parent_dir": True}


def _archive(out: IO[bytes], path: str, arcname: str, follow: bool) -> None:
    source = path[:-2] or "/" if path.endswith("/.") else path
    if follow:
        source = os.path.realpath(source)
    os.lstat(source)  # a missing source is an error before any byte of tar
    _say(out, {"ok": True})
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(source, arcname=arcname, recursive=True)


def _extract(source: IO[bytes], directory: str, keep_owners: bool) -> None:
    if not os.path.isdir(directory):
        raise FileNotFoundError(2, "no such directory", directory)

    def admit(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
        """tar's own checks (nothing outside ``dest``, no absolute links), modes kept as given."""
        checked = tarfile.tar_filter(member, dest)
        owner = {} if keep_owners else {"uid": 0, "gid": 0}
        return checked.replace(mode=member.mode, deep=False, **owner)  # type: ignore[arg-type]

    with tarfile.open(fileobj=source, mode="r|") as tar:
        tar.extractall(directory, filter=admit, numeric_owner=True)


if __name__ == "__main__":
    main(sys.argv[1:])
