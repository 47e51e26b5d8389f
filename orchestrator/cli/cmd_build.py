"""`pyorch build` (a project's services with ``build:``) and `pyorch image build` (one context).

The engine runs the build (it owns the store and the container runtime); this module sends the
request and shows the streamed progress (`build_progress.py`). `up` builds through here first, so
its builds show their progress too. Secrets of `image build --secret` are read here, from this
process's files and environment, and travel base64-encoded over the engine's root-only socket.
"""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.cli import build_progress
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import out
from orchestrator.cli.project_args import load
from orchestrator.errors import PyorchError

if TYPE_CHECKING:
    from orchestrator.spec import Project


def register(sub: Any, image_sub: Any) -> None:
    build = sub.add_parser("build", help="Build the images of a project's services that have build:")
    build.add_argument("services", nargs="*", help="services to build (default: every one with build:)")
    build.add_argument("--no-cache", action="store_true", help="Do not use the layer cache")
    build.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    build.add_argument("--with-dependencies", action="store_true", help="Also build the services they depend on")
    build.add_argument("-q", "--quiet", action="store_true", help="Print only the image ids")
    build.set_defaults(run=cmd_build)
    single = image_sub.add_parser("build", help="Build an image from a Dockerfile and a context directory")
    single.add_argument("context", help="the build context directory")
    single.add_argument("-t", "--tag", action="append", default=[], help="name:tag (repeatable)")
    single.add_argument("-f", "--file", help="the Dockerfile (default: <context>/Dockerfile)")
    single.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    single.add_argument("--target", help="build this stage")
    single.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    single.add_argument("--no-cache", action="store_true")
    single.add_argument("--network", default="default", choices=["default", "none", "host"],
                        help="RUN's network (default: the build network, with the internet through the host)")
    single.add_argument("--add-host", action="append", default=[], metavar="HOST:IP",
                        help="an /etc/hosts entry in RUN steps (IP may be host-gateway)")
    single.add_argument("--secret", action="append", default=[], metavar="id=ID[,src=PATH|,env=VAR]",
                        help="a secret RUN --mount=type=secret can read (never stored in the image)")
    single.add_argument("--allow", action="append", default=[], metavar="ENTITLEMENT",
                        help="grant an entitlement: network.host")
    single.add_argument("--ssh", action="append", default=[], help=argparse.SUPPRESS)
    single.add_argument("--progress", choices=build_progress.MODES, default=None,
                        help="auto (default), tty, plain or quiet")
    single.add_argument("-q", "--quiet", action="store_true")
    single.set_defaults(run=cmd_image_build)
    builder = sub.add_parser("builder", help="Manage the build cache")
    builder_sub = builder.add_subparsers(dest="builder_command", required=True, metavar="COMMAND")
    prune = builder_sub.add_parser("prune", help="Remove the layer cache, the RUN cache mounts and unused layers")
    prune.add_argument("-a", "--all", action="store_true", help="Accepted for compatibility (everything goes)")
    prune.add_argument("-f", "--force", action="store_true", help="Accepted for compatibility (no prompt)")
    prune.set_defaults(run=cmd_builder_prune)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise PyorchError(f"{flag} {item!r}: want KEY=VALUE")
        pairs[key] = value if eq else os.environ.get(key, "")  # docker: a bare KEY takes the environment's value
    return pairs


def add_hosts(items: list[str]) -> dict[str, str]:
    """``--add-host name:ip`` (or ``name=ip``), as docker build takes them."""
    hosts = {}
    for item in items:
        sep = "=" if "=" in item else ":"
        name, found, address = item.partition(sep)
        if not found or not name or not address:
            raise PyorchError(f"--add-host {item!r}: want HOST:IP")
        hosts[name] = address
    return hosts


def read_secrets(items: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """``--secret id=ID[,src=PATH][,env=VAR][,type=file|env]`` → id → base64 value (docker buildx's
    rules: with neither src nor env, the environment variable named ID, else the file named ID)."""
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for item in items:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        secret_id = fields.get("id", "")
        if not secret_id:
            raise PyorchError(f"--secret {item!r}: want id=ID[,src=PATH|,env=VAR]")
        kind = fields.get("type", "")
        source = fields.get("src") or fields.get("source")
        variable = fields.get("env")
        if kind == "env" or (variable is not None and source is None):
            name = variable or source or secret_id
            if name not in env:
                raise PyorchError(f"--secret {item!r}: the environment variable {name} is not set")
            value = env[name].encode()
        else:
            path = Path(source or secret_id)
            if source is None and kind != "file" and secret_id in env:
                value = env[secret_id].encode()
            else:
                try:
                    value = path.read_bytes()
                except OSError as exc:
                    raise PyorchError(f"--secret {item!r}: cannot read {path}: {exc.strerror or exc}") from None
        out[secret_id] = base64.b64encode(value).decode()
    return out


def build_project(client: EngineClient, project: Project | None, services: list[str] | None,
                  no_cache: bool = False, args: dict[str, str] | None = None, quiet: bool = False,
                  progress: str = "auto", missing: bool = False, source: dict[str, object] | None = None,
                  with_dependencies: bool = False) -> list[dict[str, Any]]:
    """Build the project's services through the engine and show the progress; the images built."""
    body: dict[str, Any] = {"services": services or [], "no_cache": no_cache, "args": args or {},
                            "missing": missing, "with_dependencies": with_dependencies}
    if project is not None:
        body.update(project=project.model_dump(mode="json"), environ=dict(os.environ))
    else:
        body["source"] = source
    return render_build(client.stream_post("/v1/projects/build", body), "quiet" if quiet else progress)


def progress_mode(args: argparse.Namespace) -> str:
    """``--progress`` (the command's, then the global one), then $BUILDKIT_PROGRESS, then auto."""
    chosen = getattr(args, "progress", None) or getattr(args, "global_progress", None) \
        or os.environ.get("BUILDKIT_PROGRESS") or "auto"
    if chosen not in build_progress.MODES:
        raise PyorchError(f"--progress {chosen!r}: want one of {', '.join(build_progress.MODES)}")
    return chosen


def cmd_build(args: argparse.Namespace, client: EngineClient) -> int:
    project = load(args)
    images = build_project(client, project, list(args.services) or None, args.no_cache,
                           _pairs(args.build_arg, "--build-arg"), args.quiet, progress_mode(args),
                           with_dependencies=args.with_dependencies)
    for image in images:
        out.print(image["id"] if args.quiet else f"{image['service']}: {image['references'][0]} {image['id'][:19]}",
                  markup=False)
    return 0


def cmd_image_build(args: argparse.Namespace, client: EngineClient) -> int:
    if args.ssh:
        raise PyorchError("--ssh is not supported: pyorch does not forward an SSH agent into builds "
                          "(use --secret for a key)")
    context = os.path.abspath(args.context)
    dockerfile = os.path.abspath(args.file) if args.file else None
    body = {"context": context, "dockerfile": dockerfile, "args": _pairs(args.build_arg, "--build-arg"),
            "target": args.target, "labels": _pairs(args.label, "--label"), "tags": args.tag,
            "no_cache": args.no_cache, "network": args.network, "extra_hosts": add_hosts(args.add_host),
            "secrets": read_secrets(args.secret), "allow": list(args.allow)}
    for image in render_build(client.stream_post("/v1/images/build", body), "quiet" if args.quiet
                              else progress_mode(args)):
        out.print(image["id"], markup=False)
    return 0


def cmd_builder_prune(args: argparse.Namespace, client: EngineClient) -> int:
    result = client.request("POST", "/v1/builder/prune", {})
    for blob in result["deleted_blobs"]:
        out.print(f"deleted: {blob}", markup=False)
    out.print(f"removed {result['cache_entries']} cache entries and {result['cache_mounts']} cache mounts",
              markup=False)
    return 0


def render_build(lines: Any, mode: str) -> list[dict[str, Any]]:
    """Show the streamed events; the result's images, or the build's error."""
    shown = build_progress.printer(mode)
    ok = False
    try:
        for line in lines:
            if "error" in line:
                raise PyorchError(f"build: {line['error']}")
            if line.get("build") is None:
                ok = True
                return list(line.get("images", []))
            shown.event(line)
    finally:
        shown.close(ok)
    raise PyorchError("build: the engine ended the stream without a result")
