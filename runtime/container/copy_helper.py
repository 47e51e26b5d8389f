"""`cp`'s worker: a short-lived process inside a running container's mount namespace that reports
what a path is, writes it as a tar stream, or extracts one — Docker's chrooted archive, done by
entering the namespace (so every path, symlink and mount resolves as the container sees it and
nothing can lead out of its root).

Run by runtime/container/copy.py as ``python -I -S`` with its socket as stdin and stdout:

    stat PID PATH FOLLOW              → one JSON line: {"exists", "dir", "parent_dir"} or {"error"}
    archive PID PATH ARCNAME FOLLOW   → a JSON line ({"ok": true} or {"error"}), then the tar
    extract PID DIR KEEP_OWNERS       ← a tar; → one JSON line when done ({"ok": true} or {"error"})

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
        command, pid, rest = argv[0], int(argv[1]), argv[2:]
        _enter(pid)
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


def _enter(pid: int) -> None:
    fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(fd, sc.CLONE_NEWNS)  # root and cwd become the namespace's root
    finally:
        os.close(fd)
    os.chdir("/")


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
