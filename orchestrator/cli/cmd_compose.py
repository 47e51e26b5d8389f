"""`run`, `rm`, `scale`, `wait` and `inspect`: Compose verbs beyond up/down, and `down --rmi`."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from orchestrator.cli import render, session
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err, out
from orchestrator.cli.replicas import parse_scale
from orchestrator.errors import EngineError, NoSuchService, PyorchError

if TYPE_CHECKING:
    from orchestrator.spec import Project

ProjectName = Callable[[argparse.Namespace], str]
LoadProject = Callable[[argparse.Namespace], "Project"]
POLL_S = 0.2


def register(sub: Any, project_name: ProjectName, load: LoadProject) -> None:
    run = sub.add_parser("run", help="Run a one-off command on a service")
    run.add_argument("-d", "--detach", action="store_true", help="Run in the background, print the container name")
    run.add_argument("--rm", action="store_true", help="Remove the container when it exits")
    run.add_argument("-e", "--env", action="append", default=[], help="KEY=VALUE, or KEY to take it from here")
    run.add_argument("--entrypoint", help="Override the entrypoint (a command line, split like a shell)")
    run.add_argument("-u", "--user")
    run.add_argument("-w", "--workdir")
    run.add_argument("--name", help="Container name instead of <project>-<service>-run-<id>")
    run.add_argument("--no-deps", action="store_true", help="Don't start linked services")
    run.add_argument("-T", "--no-TTY", action="store_true",
                     help="Disable pseudo-TTY allocation (default: a TTY when stdin and stdout are terminals)")
    run.add_argument("-i", "--interactive", action="store_true", default=True,
                     help="Keep STDIN open (the default, as Compose)")
    run.add_argument("--detach-keys", default=session.DEFAULT_DETACH_KEYS,
                     help="Key sequence that leaves the container running (default ctrl-p,ctrl-q)")
    run.add_argument("service")
    run.add_argument("command", nargs=argparse.REMAINDER)
    run.set_defaults(run=lambda a, c: _run(a, c, load))

    rm = sub.add_parser("rm", help="Remove stopped service containers")
    rm.add_argument("-f", "--force", action="store_true", help="Don't ask to confirm removal")
    rm.add_argument("-s", "--stop", action="store_true", help="Stop the containers first if they run")
    rm.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes attached to containers")
    rm.add_argument("services", nargs="*")
    rm.set_defaults(run=lambda a, c: _rm(a, c, project_name))

    scale = sub.add_parser("scale", help="Scale services (SERVICE=REPLICAS)")
    scale.add_argument("--no-deps", action="store_true", help="Accepted for compatibility (only the named "
                       "services change anyway)")
    scale.add_argument("scale", nargs="+", metavar="SERVICE=REPLICAS")
    scale.set_defaults(run=lambda a, c: _scale(a, c, project_name))

    wait = sub.add_parser("wait", help="Block until containers of the services stop; exit with the first's code")
    wait.add_argument("--down-project", action="store_true", help="Take the project down when they have stopped")
    wait.add_argument("services", nargs="+")
    wait.set_defaults(run=lambda a, c: _wait(a, c, project_name))

    inspect = sub.add_parser("inspect", help="Show containers in detail (health log, restart history, events)")
    inspect.add_argument("refs", nargs="+", metavar="CONTAINER|SERVICE")
    inspect.set_defaults(run=lambda a, c: _inspect(a, c, project_name))


# --- helpers used by main.py ----------------------------------------------------------------------------

def project_images(project: Project, mode: str) -> list[str]:
    """`down --rmi local|all`: `local` is what Compose calls images without a custom tag, i.e. the
    ones built for services that have no `image:` (named `<project>-<service>`)."""
    images = []
    for name, service in project.services.items():
        if service.image is None:
            images.append(f"{project.name}-{name}")
        elif mode == "all":
            images.append(service.image)
    return sorted(set(images))


def remove_images(client: EngineClient, images: list[str]) -> int:
    """Remove each image; one that is missing or still used by a container is reported, not fatal."""
    for image in images:
        try:
            client.request("POST", "/v1/images/remove", {"reference": image, "force": False})
            err.print(f" [green]✔[/] Image {render.escape(image)}  Removed")
        except EngineError as exc:
            err.print(f" [yellow]![/] Image {render.escape(image)}  {render.escape(str(exc))}")
    return 0


def env_entries(items: list[str], environ: dict[str, str]) -> list[str]:
    """`-e KEY=VALUE` as given; `-e KEY` takes KEY from this environment, and is dropped when unset."""
    result = []
    for item in items:
        if "=" in item:
            result.append(item)
        elif item in environ:
            result.append(f"{item}={environ[item]}")
    return result


# --- verbs ---------------------------------------------------------------------------------------------

def _run(args: argparse.Namespace, client: EngineClient, load: LoadProject) -> int:
    project = load(args)
    NoSuchService.refuse_unknown(project.services, [args.service])
    body = {"project": project.model_dump(mode="json"), "service": args.service, "command": args.command,
            "entrypoint": shlex.split(args.entrypoint) if args.entrypoint is not None else None,
            "env": env_entries(args.env, dict(os.environ)), "user": args.user, "workdir": args.workdir,
            "name": args.name, "no_deps": args.no_deps}
    if args.detach:
        created = client.request("POST", f"/v1/projects/{project.name}/run", body)
        out.print(created["name"], markup=False)
        return 0
    keys = session.parse_detach_keys(args.detach_keys)
    tty, stdin = session.wants_tty(args.no_TTY), bool(args.interactive)
    body.update(tty=tty, stdin_open=stdin, size=session.terminal_size() if tty else None)
    created, sock = client.handover(f"/v1/projects/{project.name}/sessions/run", body)
    code = session.run(sock, session.Options(tty=tty, stdin=stdin, detach_keys=keys, sig_proxy=not tty))
    if code is None:  # detached: the container runs on (and stays, even with --rm, until `down` or `rm`)
        err.print(f"Detached from {render.escape(created['name'])}; it keeps running")
        return 0
    if args.rm:
        client.request("POST", f"/v1/projects/{project.name}/oneoff/{created['id']}/remove", {})
    return code


def _rm(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    query = urlencode([("all", "1"), *(("service", s) for s in args.services)])
    rows = client.request("GET", f"/v1/projects/{name}/ps?{query}")  # an unknown service is refused
    doomed = [r["name"] for r in rows if args.stop or r["status"] in ("exited", "created")]
    if not doomed:
        err.print("No stopped containers")
        return 0
    if not args.force and sys.stdin.isatty():
        answer = input(f"Going to remove {', '.join(doomed)}\nAre you sure? [yN] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    result = client.request("POST", f"/v1/projects/{name}/rm",
                            {"services": args.services, "stop": args.stop, "volumes": args.volumes})
    for container in result["removed"]:
        err.print(f" [green]✔[/] Container {render.escape(container)}  Removed")
    for volume in result["volumes"]:
        err.print(f" [green]✔[/] Volume {render.escape(volume)}  Removed")
    return 0


def _scale(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    with err.status(f"Scaling {name}"):
        result = client.request("POST", f"/v1/projects/{name}/scale", {"scale": parse_scale(args.scale)})
    render.up_result(err, result)
    return 1 if result["errors"] else 0


def first_exit(rows: list[dict[str, Any]], services: list[str], seen: dict[str, int]) -> bool:
    """Note exits of the services' containers in ``seen`` (name → code, in order); True when all exited."""
    mine = [r for r in rows if r["service"] in services]
    for r in mine:
        if r["status"] == "exited" and r["name"] not in seen:
            seen[r["name"]] = int(r["exit_code"] if r["exit_code"] is not None else -1)
    return bool(mine) and all(r["name"] in seen for r in mine)


def _wait(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    seen: dict[str, int] = {}
    while True:
        rows = client.request("GET", f"/v1/projects/{name}/ps?all=1")
        client.follow()  # the engine that answered: none is started if it goes
        unknown = set(args.services) - {r["service"] for r in rows}
        if unknown:
            raise PyorchError(f"no containers for service(s) {', '.join(sorted(unknown))} in project {name}")
        if first_exit(rows, args.services, seen):
            break
        time.sleep(POLL_S)
    for container, code in seen.items():
        err.print(f"{render.escape(container)} exited with code {code}")
    if args.down_project:
        client.request("POST", f"/v1/projects/{name}/down", {})
    return next(iter(seen.values()))


def _inspect(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    query = "&".join(f"ref={r}" for r in args.refs)
    sys.stdout.write(json.dumps(client.request("GET", f"/v1/projects/{name}/inspect?{query}"), indent=2) + "\n")
    return 0
