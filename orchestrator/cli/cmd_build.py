"""`pyorch build` (a project's services with ``build:``) and `pyorch image build` (one context).

The engine runs the build (it owns the store and the container runtime); this module sends the
request and prints the streamed steps, RUN output and notes.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err, out
from orchestrator.cli.project_args import load
from orchestrator.errors import PyorchError

if TYPE_CHECKING:
    from orchestrator.spec import Project



def register(sub: Any, image_sub: Any) -> None:
    build = sub.add_parser("build", help="Build the images of a project's services that have build:")
    build.add_argument("services", nargs="*", help="services to build (default: every one with build:)")
    build.add_argument("--no-cache", action="store_true", help="Do not use the layer cache")
    build.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
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
    single.add_argument("-q", "--quiet", action="store_true")
    single.set_defaults(run=cmd_image_build)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise PyorchError(f"{flag} {item!r}: want KEY=VALUE")
        pairs[key] = value if eq else os.environ.get(key, "")  # docker: a bare KEY takes the environment's value
    return pairs


def build_project(client: EngineClient, project: Project, services: list[str], no_cache: bool = False,
                  args: dict[str, str] | None = None, quiet: bool = False) -> list[dict[str, Any]]:
    body = {"project": project.model_dump(mode="json"), "services": services, "no_cache": no_cache,
            "args": args or {}}
    return render_build(client.stream_post("/v1/projects/build", body), quiet)


def cmd_build(args: argparse.Namespace, client: EngineClient) -> int:
    project = load(args)
    images = build_project(client, project, list(args.services), args.no_cache,
                           _pairs(args.build_arg, "--build-arg"), args.quiet)
    for image in images:
        out.print(image["id"] if args.quiet else f"{image['service']}: {image['references'][0]} {image['id'][:19]}",
                  markup=False)
    return 0


def cmd_image_build(args: argparse.Namespace, client: EngineClient) -> int:
    context = os.path.abspath(args.context)
    dockerfile = os.path.abspath(args.file) if args.file else None
    body = {"context": context, "dockerfile": dockerfile, "args": _pairs(args.build_arg, "--build-arg"),
            "target": args.target, "labels": _pairs(args.label, "--label"), "tags": args.tag,
            "no_cache": args.no_cache}
    for image in render_build(client.stream_post("/v1/images/build", body), args.quiet):
        out.print(image["id"], markup=False)
    return 0


def render_build(lines: Any, quiet: bool) -> list[dict[str, Any]]:
    for line in lines:
        if "error" in line:
            raise PyorchError(f"build: {line['error']}")
        kind = line.get("build")
        if kind is None:
            return list(line.get("images", []))
        if quiet:
            continue
        if kind == "service":
            err.print(f"[bold]Building {line['text']}[/]")
        elif kind == "step":
            err.print(line["text"], markup=False)
        else:
            err.print(("" if kind == "note" else "  ") + str(line["text"]), markup=False)
    raise PyorchError("build: the engine ended the stream without a result")
