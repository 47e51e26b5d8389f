"""Image and registry verbs: pull, push, login, logout, rmi, save, load, image inspect/prune/rm.

Every verb is a request to the engine (which owns the store and knows which images containers
use); pulls and pushes stream progress that is drawn here as one bar per blob.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err, out
from orchestrator.cli.project_args import load
from orchestrator.errors import PyorchError
from orchestrator.spec import ComposeError

if TYPE_CHECKING:
    from rich.progress import TaskID

DEFAULT_REGISTRY = "docker.io"


def register(sub: Any, image_sub: Any) -> None:
    """Add the verbs to the top-level parser (``sub``) and under ``pyorch image`` (``image_sub``)."""
    for parsers, name in ((sub, "pull"), (image_sub, "pull")):
        p = parsers.add_parser(name, help="Pull images, or the images of a project's services")
        p.add_argument("names", nargs="*", help="image references, or service names of the project (default: all)")
        p.add_argument("--platform", help="os/arch[/variant] to pull from a multi-platform image")
        p.add_argument("-q", "--quiet", action="store_true", help="No progress output")
        p.set_defaults(run=cmd_pull)
    for parsers, name in ((sub, "push"), (image_sub, "push")):
        p = parsers.add_parser(name, help="Push an image to a registry")
        p.add_argument("reference")
        p.add_argument("target", nargs="?", help="push under this name instead (default: the reference)")
        p.add_argument("--compression", choices=["gzip", "zstd", "none"], default="gzip",
                       help="how plain layers go to the registry (default gzip, as Docker)")
        p.add_argument("-q", "--quiet", action="store_true")
        p.set_defaults(run=cmd_push)
    login = sub.add_parser("login", help="Log in to a registry (credentials are checked, then stored)")
    login.add_argument("server", nargs="?", default=DEFAULT_REGISTRY)
    login.add_argument("-u", "--username")
    login.add_argument("-p", "--password")
    login.add_argument("--password-stdin", action="store_true")
    login.set_defaults(run=cmd_login)
    logout = sub.add_parser("logout", help="Forget the credentials of a registry")
    logout.add_argument("server", nargs="?", default=DEFAULT_REGISTRY)
    logout.set_defaults(run=cmd_logout)
    for parsers, name in ((sub, "rmi"), (image_sub, "rm")):
        p = parsers.add_parser(name, help="Remove image references (the image goes with its last one)")
        p.add_argument("references", nargs="+")
        p.add_argument("-f", "--force", action="store_true", help="Remove even if a container uses it")
        p.set_defaults(run=cmd_rmi)
    inspect = image_sub.add_parser("inspect", help="Show images as JSON")
    inspect.add_argument("references", nargs="+")
    inspect.set_defaults(run=cmd_inspect)
    prune = image_sub.add_parser("prune", help="Remove untagged images and unreferenced layers")
    prune.add_argument("-a", "--all", action="store_true", help="Remove every image no container uses")
    prune.add_argument("-f", "--force", action="store_true", help="Accepted for compatibility (no prompt)")
    prune.set_defaults(run=cmd_prune)
    for parsers, name in ((sub, "save"), (image_sub, "save")):
        p = parsers.add_parser(name, help="Save images to a tar (docker-archive + OCI layout) or an OCI directory")
        p.add_argument("references", nargs="+")
        p.add_argument("-o", "--output", help="file (or directory for oci-dir); default: standard output")
        p.add_argument("--format", choices=["tar", "oci-dir"], default="tar")
        p.set_defaults(run=cmd_save)
    for parsers, name in ((sub, "load"), (image_sub, "load")):
        p = parsers.add_parser(name, help="Load images from a docker-archive/OCI tar or an OCI layout directory")
        p.add_argument("-i", "--input", help="tar file or OCI layout directory; default: standard input")
        p.add_argument("--name", help="repository for layout entries named only by a tag (skopeo's oci:DIR:TAG)")
        p.set_defaults(run=cmd_load)


# --- pull and push -----------------------------------------------------------------------------------

def _service_images(args: argparse.Namespace) -> list[tuple[str, str | None]] | None:
    """The (image, platform) of the named services, or None when the names are image references."""
    try:
        project = load(args)
    except ComposeError:
        if not args.names:
            raise
        return None
    if not all(n in project.services for n in args.names):
        return None  # image references, as `docker pull` takes them
    names = args.names or list(project.services)
    wanted: list[tuple[str, str | None]] = []
    for name in names:
        service = project.services[name]
        if service.image and (service.image, service.platform) not in wanted:
            wanted.append((service.image, service.platform))
    return wanted


def cmd_pull(args: argparse.Namespace, client: EngineClient) -> int:
    services = _service_images(args)
    targets = services if services is not None else [(n, None) for n in args.names]
    for reference, platform in targets:
        body = {"reference": reference, "platform": args.platform or platform}
        result = render_transfer(client.stream_post("/v1/images/pull", body), reference, args.quiet)
        image = result["image"]
        out.print(f"{reference}: {image['id']}" if not args.quiet else image["id"], markup=False)
    return 0


def cmd_push(args: argparse.Namespace, client: EngineClient) -> int:
    body = {"reference": args.reference, "target": args.target, "compression": args.compression}
    result = render_transfer(client.stream_post("/v1/images/push", body), args.target or args.reference, args.quiet)
    out.print(f"{args.target or args.reference}: digest: {result['digest']}", markup=False)
    return 0


def render_transfer(lines: Iterator[dict[str, Any]], what: str, quiet: bool) -> dict[str, Any]:
    """Draw one bar per blob from the engine's events; return the final result line."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    result: dict[str, Any] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err, disable=quiet or not err.is_terminal) as progress:
        tasks: dict[str, TaskID] = {}
        for line in lines:
            if "error" in line:
                raise PyorchError(f"{what}: {line['error']}")
            status = line.get("status")
            if status is None:
                result = line
                continue
            blob = str(line.get("blob", ""))
            if status in ("resolved", "pushed") and line.get("detail"):
                if not quiet:
                    err.print(f"{line['detail']}: {status} {blob}", markup=False)
                continue
            if status == "done" and blob not in tasks:
                continue  # the image as a whole
            if blob not in tasks:
                tasks[blob] = progress.add_task(blob[7:19], total=line.get("total") or None)
            progress.update(tasks[blob], completed=line.get("current", 0),
                            description=f"{blob[7:19]} {status:<11}")
    if not result:
        raise PyorchError(f"{what}: the engine ended the transfer without a result")
    return result


# --- credentials -------------------------------------------------------------------------------------

def cmd_login(args: argparse.Namespace, client: EngineClient) -> int:
    username = args.username or (input("Username: ") if sys.stdin.isatty() else None)
    if args.password_stdin:
        if args.password:
            raise PyorchError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.read().rstrip("\r\n")
    else:
        from getpass import getpass  # these imports are for the verbs that use them, not every start

        password = args.password or (getpass("Password: ") if sys.stdin.isatty() else "")
    if not username or not password:
        raise PyorchError("login needs --username and a password (-p, --password-stdin or a prompt)")
    result = client.request("POST", "/v1/registry/login",
                            {"registry": args.server, "username": username, "password": password})
    err.print(f"Login Succeeded ({result['registry']}; stored in {result['stored_in']})", markup=False)
    return 0


def cmd_logout(args: argparse.Namespace, client: EngineClient) -> int:
    result = client.request("POST", "/v1/registry/logout", {"registry": args.server})
    err.print(f"Removing login credentials for {args.server}" if result["removed"]
              else f"Not logged in to {args.server}", markup=False)
    return 0


# --- store verbs ---------------------------------------------------------------------------------------

def cmd_rmi(args: argparse.Namespace, client: EngineClient) -> int:
    for reference in args.references:
        result = client.request("POST", "/v1/images/remove", {"reference": reference, "force": args.force})
        for untagged in result["untagged"]:
            out.print(f"Untagged: {untagged}", markup=False)
    return 0


def cmd_inspect(args: argparse.Namespace, client: EngineClient) -> int:
    query = "&".join(f"ref={r}" for r in args.references)
    sys.stdout.write(json.dumps(client.request("GET", f"/v1/images/inspect?{query}"), indent=2) + "\n")
    return 0


def cmd_prune(args: argparse.Namespace, client: EngineClient) -> int:
    result = client.request("POST", "/v1/images/prune", {"all": args.all})
    for untagged in result["untagged"]:
        out.print(f"untagged: {untagged}", markup=False)
    for blob in result["deleted_blobs"]:
        out.print(f"deleted: {blob}", markup=False)
    if result.get("cache_mounts"):
        out.print(f"removed {result['cache_mounts']} build cache mounts", markup=False)
    return 0


def cmd_save(args: argparse.Namespace, client: EngineClient) -> int:
    if args.output:
        body = {"references": args.references, "output": str(Path(args.output).resolve()), "format": args.format}
        client.request("POST", "/v1/images/save", body)
        return 0
    if args.format != "tar":
        raise PyorchError("the oci-dir format needs -o DIR")
    if sys.stdout.isatty():
        raise PyorchError("refusing to write a tar archive to a terminal: use -o FILE or redirect the output")
    from shutil import copyfileobj

    with _scratch_file(client) as path:
        client.request("POST", "/v1/images/save", {"references": args.references, "output": str(path)})
        with open(path, "rb") as f:
            copyfileobj(f, sys.stdout.buffer)
        sys.stdout.flush()
    return 0


def cmd_load(args: argparse.Namespace, client: EngineClient) -> int:
    if args.input:
        loaded = client.request("POST", "/v1/images/load",
                                {"source": str(Path(args.input).resolve()), "repository": args.name})["loaded"]
    else:
        if sys.stdin.isatty():
            raise PyorchError("load reads a tar archive from standard input: redirect one, or use -i FILE")
        from shutil import copyfileobj

        with _scratch_file(client) as path:
            with open(path, "wb") as f:
                copyfileobj(sys.stdin.buffer, f)
            loaded = client.request("POST", "/v1/images/load", {"source": str(path), "repository": args.name})["loaded"]
    for item in loaded:
        out.print(f"Loaded image: {item['reference']}" if item["reference"] else f"Loaded image ID: {item['id']}",
                  markup=False)
    return 0


@contextlib.contextmanager
def _scratch_file(client: EngineClient) -> Iterator[Path]:
    """A private file the engine can read and write (same host, root), removed afterwards."""
    client.run_root.mkdir(parents=True, exist_ok=True)
    from tempfile import mkstemp

    fd, name = mkstemp(dir=client.run_root, prefix=".transfer-", suffix=".tar")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)
