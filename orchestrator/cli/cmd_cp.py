"""`cp`: files between the host and a service's container, as `docker compose cp` copies them.

Docker's path rules (`plan`): a file onto a missing path is saved under that name, into a
directory under its own; a directory onto a missing path becomes it, into a directory goes in
under its own name, and `SRC/.` copies its contents. Modes are kept; owners with `-a` (else what
lands in a container belongs to its root, and what lands here to the user running `cp`). `-` as
SOURCE extracts a tar read from stdin into a directory of the container; `-` as DEST writes the
source as a tar to stdout. The container may be stopped. The tar goes between this process and a
worker inside the container's mount namespace, through a socket the engine hands over
(orchestrator/engine/copy_api.py).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err
from orchestrator.errors import PyorchError

if TYPE_CHECKING:
    import tarfile

ProjectName = Callable[[argparse.Namespace], str]


def register(sub: Any, project_name: ProjectName) -> None:
    cp = sub.add_parser("cp", help="Copy files/folders between a service container and the local filesystem")
    cp.add_argument("-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)")
    cp.add_argument("-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH")
    cp.add_argument("--index", type=int, default=1, help="Index of the container if the service has several")
    cp.add_argument("source", metavar="SERVICE:SRC_PATH|SRC_PATH|-")
    cp.add_argument("dest", metavar="SERVICE:DEST_PATH|DEST_PATH|-")
    cp.set_defaults(run=lambda a, c: _cp(a, c, project_name))


@dataclass(frozen=True)
class Where:
    """What a destination path is, on either side."""
    exists: bool
    dir: bool
    parent_dir: bool


@dataclass(frozen=True)
class Plan:
    directory: str  # extracted into this directory…
    arcname: str    # …under this name ("." for the source directory's contents)


def split_ref(arg: str) -> tuple[str | None, str]:
    """`SERVICE:PATH` or a local path (Docker's rule: a path with a colon is local when it starts
    with `/` or `.`)."""
    service, sep, path = arg.partition(":")
    if sep and service and not arg.startswith(("/", ".")):
        return service, path
    return None, arg


def plan(source: str, source_dir: bool, dest: str, where: Where) -> Plan:
    """Docker's `cp` rules for where ``source`` lands at ``dest`` (pure)."""
    contents = source.endswith("/.")
    base = os.path.basename(source.rstrip("/").removesuffix("/.") or "/") or "."
    if where.exists:
        if where.dir:
            return Plan(dest, "." if contents and source_dir else base)
        if source_dir:
            raise PyorchError(f"cannot copy a directory to a file: {dest}")
        return Plan(os.path.dirname(dest.rstrip("/")) or ".", os.path.basename(dest))
    if dest.endswith("/") and not source_dir:
        raise PyorchError(f"destination directory {dest} does not exist")
    if not where.parent_dir:
        raise PyorchError(f"the parent directory of {dest} does not exist")
    return Plan(os.path.dirname(dest.rstrip("/")) or ".", os.path.basename(dest.rstrip("/")))


def _cp(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    (src_service, src), (dest_service, dest) = split_ref(args.source), split_ref(args.dest)
    if (src_service is None) == (dest_service is None):
        raise PyorchError("cp copies between a service's container and this host: one of SOURCE and DEST "
                          "must be SERVICE:PATH, the other a local path")
    name = project_name(args)
    if dest_service is not None and src == "-":
        _stdin_to_container(client, name, dest_service, args, dest, sys.stdin.buffer)
    elif dest_service is not None:
        _to_container(client, name, dest_service, args, src, dest)
    elif dest == "-":
        assert src_service is not None
        _container_to_stdout(client, name, src_service, args, src, sys.stdout.buffer)
    else:
        assert src_service is not None
        _from_container(client, name, src_service, args, src, dest)
    return 0


CHUNK = 1 << 16


def _stdin_to_container(client: EngineClient, project: str, service: str, args: argparse.Namespace, dest: str,
                        stdin: IO[bytes]) -> None:
    """`cp - SERVICE:DIR`: a tar from stdin, extracted into a directory that exists (Docker's rule)."""
    target = {"service": service, "index": args.index}
    info = client.request("POST", f"/v1/projects/{project}/copy/stat", {**target, "path": dest, "follow_link": True})
    if not (info["exists"] and info["dir"]):
        raise PyorchError(f'destination "{service}:{dest}" must be a directory')
    _, sock = client.handover(f"/v1/projects/{project}/copy/extract",
                              {**target, "path": dest, "archive": args.archive})

    def copy_stdin(conn: socket.socket) -> None:
        while chunk := stdin.read(CHUNK):
            conn.sendall(chunk)

    _send_tar(sock, copy_stdin)


def _container_to_stdout(client: EngineClient, project: str, service: str, args: argparse.Namespace, src: str,
                         stdout: IO[bytes]) -> None:
    """`cp SERVICE:SRC -`: the source as a tar on stdout, its top entry named after it (`.` for
    `DIR/.`), as `docker cp` streams it."""
    target = {"service": service, "index": args.index}
    _source_stat(client, project, target, src, args.follow_link)
    arcname = "." if src.endswith("/.") else os.path.basename(src.rstrip("/")) or "."
    _, sock = client.handover(f"/v1/projects/{project}/copy/archive",
                              {**target, "path": src, "arcname": arcname, "follow_link": args.follow_link})
    with sock, sock.makefile("rb") as stream:
        _check(stream.readline())
        while chunk := stream.read1(CHUNK):
            stdout.write(chunk)
        stdout.flush()


def _to_container(client: EngineClient, project: str, service: str, args: argparse.Namespace, src: str,
                  dest: str) -> None:
    import tarfile  # here: every other command would pay for it at start

    local = os.path.realpath(src.removesuffix("/.")) if args.follow_link else src.removesuffix("/.") or "/"
    try:
        source_dir = stat.S_ISDIR(os.stat(local).st_mode if args.follow_link else os.lstat(local).st_mode)
    except FileNotFoundError:
        raise PyorchError(f"no such file or directory: {src}") from None
    target = {"service": service, "index": args.index}
    info = client.request("POST", f"/v1/projects/{project}/copy/stat",
                          {**target, "path": dest, "follow_link": True})  # a link to a directory is one
    where = plan(src, source_dir, dest, Where(bool(info["exists"]), bool(info["dir"]), bool(info["parent_dir"])))
    _, sock = client.handover(f"/v1/projects/{project}/copy/extract",
                              {**target, "path": where.directory, "archive": args.archive})

    def write_tar(conn: socket.socket) -> None:
        with conn.makefile("wb") as stream, tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            tar.add(local, arcname=where.arcname, recursive=True)

    _send_tar(sock, write_tar)
    err.print(f"Copied {src} to {service}:{dest}", markup=False, highlight=False)


def _from_container(client: EngineClient, project: str, service: str, args: argparse.Namespace, src: str,
                    dest: str) -> None:
    target = {"service": service, "index": args.index}
    info = _source_stat(client, project, target, src, args.follow_link)
    here = Where(os.path.exists(dest), os.path.isdir(dest),
                 os.path.isdir(os.path.dirname(os.path.abspath(dest.rstrip("/"))) or "/"))
    where = plan(src, bool(info["dir"]), dest, here)
    _, sock = client.handover(f"/v1/projects/{project}/copy/archive",
                              {**target, "path": src, "arcname": where.arcname, "follow_link": args.follow_link})
    with sock, sock.makefile("rb") as stream:
        _check(stream.readline())
        extract(stream, where.directory, keep_owners=args.archive)
    err.print(f"Copied {service}:{src} to {dest}", markup=False, highlight=False)


def _source_stat(client: EngineClient, project: str, target: dict[str, Any], src: str,
                 follow_link: bool) -> dict[str, Any]:
    """What SRC is in the container (`DIR/.`: DIR); refused when it does not exist."""
    info: dict[str, Any] = client.request("POST", f"/v1/projects/{project}/copy/stat",
                                          {**target, "path": src.removesuffix("/.") or "/", "follow_link": follow_link})
    if not info["exists"]:
        raise PyorchError(f"no such file or directory in {target['service']}: {src}")
    return info


def _send_tar(sock: socket.socket, write: Callable[[socket.socket], None]) -> None:
    """Send a tar to the container's side (``write`` writes it on the socket), then read its answer."""
    with sock:
        try:
            write(sock)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker stopped reading (not a tar?): its answer says why
        with sock.makefile("rb") as answers:
            _check(answers.readline())


def _check(line: bytes) -> None:
    try:
        answer = json.loads(line)
    except ValueError:
        raise PyorchError("cp: the container's side ended without an answer") from None
    if "error" in answer:
        raise PyorchError(f"cp: {answer['error']}")


def extract(stream: IO[bytes], directory: str, keep_owners: bool) -> None:
    """Unpack a tar that came out of a container: nothing may land outside ``directory`` or link
    out of it (tar's own checks), modes as archived, owners too with ``-a`` (else ours)."""
    import tarfile

    owner = {} if keep_owners else {"uid": os.getuid(), "gid": os.getgid()}

    def admit(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
        return tarfile.tar_filter(member, dest).replace(mode=member.mode, deep=False, **owner)  # type: ignore[arg-type]

    with tarfile.open(fileobj=stream, mode="r|") as tar:
        tar.extractall(directory, filter=admit, numeric_owner=True)
