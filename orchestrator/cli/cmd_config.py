"""`pyorch config`: parse, resolve and print the project as `docker compose config` does.

Flags and their precedence are Compose v2's: `--services`, `--volumes`, `--networks`, `--models`,
`--hash`, `--profiles`, `--images`, `--variables` and `--environment` print a listing instead of
the model; `-q` only validates; `-o FILE` writes the model to a file; `--no-interpolate` prints
the merged files with their `${...}` kept; `--no-normalize` leaves out what Compose adds while
normalising (resource names, the implicit `default` network, `dockerfile: Dockerfile`, the
dependencies `links` and `network_mode: service:x` imply); `--resolve-image-digests` pins each
image to the digest of the copy in pyorch's image store.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from orchestrator.cli.client import EngineClient
from orchestrator.cli.project_args import load_options, print_warnings
from orchestrator.errors import EngineError, NoSuchService, PyorchError

if TYPE_CHECKING:
    from orchestrator.spec import Project
    from orchestrator.spec.raw import Variable


def register(sub: Any) -> None:
    config = sub.add_parser("config", help="Parse, resolve and render the Compose file in canonical format")
    config.add_argument("--format", default="", help="Format the output: yaml (default) or json")
    config.add_argument("-q", "--quiet", action="store_true", help="Only validate the configuration, print nothing")
    config.add_argument("-o", "--output", help="Save to file (default: stdout)")
    config.add_argument("--resolve-image-digests", action="store_true", help="Pin image tags to digests")
    config.add_argument("--no-interpolate", action="store_true", help="Don't interpolate environment variables")
    config.add_argument("--no-normalize", action="store_true", help="Don't normalize the compose model")
    config.add_argument("--services", action="store_true", help="Print the service names, one per line")
    config.add_argument("--volumes", action="store_true", help="Print the volume names, one per line")
    config.add_argument("--networks", action="store_true", help="Print the network names, one per line")
    config.add_argument("--models", action="store_true", help="Print the model names, one per line")
    config.add_argument("--profiles", action="store_true", help="Print the profile names, one per line")
    config.add_argument("--images", action="store_true", help="Print the image names, one per line")
    config.add_argument("--hash", metavar="SERVICES", help="Print the service config hash, one per line ('*': all)")
    config.add_argument("--variables", action="store_true", help="Print model variables and default values")
    config.add_argument("--environment", action="store_true", help="Print the environment used for interpolation")
    config.add_argument("service_names", nargs="*", metavar="SERVICE")
    config.set_defaults(run=run)


@contextlib.contextmanager
def _stdout(quiet: bool) -> Iterator[TextIO]:
    """Where listings go: stdout, or nowhere with -q (Compose points stdout at /dev/null)."""
    yield io.StringIO() if quiet else sys.stdout


def run(args: argparse.Namespace, client: EngineClient) -> int:
    from orchestrator.spec import load_project, load_raw_model, render

    fmt = args.format or "yaml"

    def load(services: list[str] | None = None) -> Project:
        from orchestrator.spec.support import about_the_model

        project = load_project(load_options(args, services, render_only=True))
        print_warnings(about_the_model(project.warnings))
        return project

    with _stdout(args.quiet) as out:
        if args.services:
            _lines(out, render.service_names(load()))
        elif args.volumes:
            _lines(out, render.volume_names(load()))
        elif args.networks:
            _lines(out, render.network_names(load()))
        elif args.models:
            _lines(out, render.model_names(load()))
        elif args.hash:
            project = load()
            names = [] if args.hash == "*" else args.hash.split(",")
            NoSuchService.refuse_unknown(project.services, names)
            _lines(out, [f"{name} {digest}" for name, digest in render.hashes(project, names).items()])
        elif args.profiles:
            _lines(out, render.profile_names(load(args.service_names)))
        elif args.images:
            _lines(out, render.images(load(args.service_names)))
        elif args.variables:
            _variables(out, render.variables(load_raw_model(load_options(args, args.service_names))), args.format)
        elif args.environment:
            _lines(out, [f"{k}={v}" for k, v in sorted(load(args.service_names).environment.items())])
        else:
            if fmt not in ("yaml", "json"):
                raise PyorchError(f'unsupported format "{fmt}"')
            if args.no_interpolate:
                text = render.render_raw(load_raw_model(load_options(args, args.service_names)), fmt)
            else:
                project = load(args.service_names)
                if args.resolve_image_digests:
                    _pin_digests(project, client)
                text = render.render_config(project, fmt, normalize=not args.no_normalize)
            if args.quiet:
                return 0
            if args.output:
                if text:
                    Path(args.output).write_text(text)
                return 0
            out.write(text)
    return 0


def _lines(out: TextIO, lines: list[str]) -> None:
    for line in lines:
        out.write(line + "\n")


def _variables(out: TextIO, variables: dict[str, Variable], fmt: str) -> None:
    """`--variables`: NAME, REQUIRED, DEFAULT VALUE, ALTERNATE VALUE; or, as Compose prints them,
    a JSON object (4-space indent) or YAML mapping by name with the fields of each variable."""
    from orchestrator.spec.goyaml import emit_yaml

    if fmt == "yaml":
        out.write(emit_yaml({name: {"name": v.name, "defaultvalue": v.default, "presencevalue": v.presence,
                                    "required": v.required} for name, v in variables.items()}, indent=4))
        return
    if fmt == "json":
        out.write(json.dumps({name: {"Name": v.name, "DefaultValue": v.default, "PresenceValue": v.presence,
                                     "Required": v.required} for name, v in variables.items()},
                             indent=4, ensure_ascii=False) + "\n")
        return
    rows = [["NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"]]
    rows += [[v.name, "true" if v.required else "false", v.default, v.presence] for v in variables.values()]
    out.write(_table(rows))


def _table(rows: list[list[str]]) -> str:
    """text/tabwriter with Compose's settings (minimum width 20, padding 3; the last column unpadded)."""
    widths = [max(20, max(len(row[i]) for row in rows) + 3) for i in range(len(rows[0]) - 1)]
    return "".join("".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + row[-1] + "\n"
                   for row in rows)


def _pin_digests(project: Project, client: EngineClient) -> None:
    """Replace each `image` by `<full name>:<tag>@<digest>` from pyorch's image store."""
    for name, service in project.services.items():
        if not service.image or "@" in service.image:
            continue
        try:
            inspected = client.request("GET", f"/v1/images/inspect?ref={quote(service.image)}")
        except EngineError as exc:
            raise PyorchError(f"service {name}: cannot resolve the digest of {service.image}: {exc}") from exc
        record = inspected[0] if isinstance(inspected, list) and inspected else {}
        digest = record.get("ManifestDigest")
        full = next((t for t in record.get("RepoTags") or [] if _short(t) == _short(service.image)), None)
        if not digest or not full:
            raise PyorchError(f"service {name}: image {service.image} has no digest in the image store")
        service.image = f"{full}@{digest}"


def _short(reference: str) -> str:
    """A reference without Docker Hub's implicit parts, for matching (`nginx` ~ `docker.io/library/nginx:latest`)."""
    short = reference.removeprefix("docker.io/library/").removeprefix("docker.io/")
    last = short.rsplit("/", 1)[-1]
    return short if ":" in last else f"{short}:latest"
