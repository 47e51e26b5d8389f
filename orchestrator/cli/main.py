"""`pyorch`: the command line, mirroring `docker compose` verbs and flags.

Every command is a client of the engine API; errors of every layer are rendered here, once.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.cli import build_progress, render
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import err, out
from orchestrator.cli.project_args import load, print_warnings, project_name, source
from orchestrator.errors import PyorchError
from orchestrator.spec import ComposeError
from runtime.run_root import run_root_of

# The modules that register verbs of their own, and those verbs. A command builds the parser of its
# verb only, with only that verb's module (`build_parser(verb)`): importing every verb's module and
# building every verb's parser (argparse makes a help formatter, which asks the terminal's size,
# and looks up translations for each argument) cost each command ~20 ms, for a choice only
# `--help` and an unknown verb show.
_VERB_MODULES: dict[str, tuple[str, ...]] = {
    "cmd_images": ("pull", "push", "login", "logout", "rmi", "save", "load", "image"),
    "cmd_build": ("build", "builder", "image"),
    "cmd_lifecycle": ("kill", "version"),
    "cmd_session": ("exec", "attach"),
    "cmd_cp": ("cp",),
    "cmd_pause": ("pause", "unpause"),
    "cmd_info": ("info",),
    "cmd_project": ("ls",),
    "cmd_stats": ("stats",),
    "cmd_events": ("events",),
    "cmd_compose": ("run", "rm", "scale", "wait", "inspect"),
    "cmd_config": ("config",),
    "cmd_rollout": ("rollout", "rollback"),
    "cmd_port": ("port",),
    "cmd_dashboard": ("dashboard", "dash"),
    "cmd_volumes": ("volume", "volumes"),
}
# Global options that take a value (the verb is the first word after them).
_GLOBAL_VALUED = frozenset({"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file",
                            "--profile", "--progress"})


def verb_of(argv: list[str]) -> str | None:
    """The verb of a command line, when it is plain to see; None (every verb's parser is built)
    for `--help`, an abbreviated or unknown global option, or no verb."""
    words = iter(argv)
    for word in words:
        if word in _GLOBAL_VALUED:
            next(words, None)
        elif word.startswith("--") and "=" in word and word.split("=", 1)[0] in _GLOBAL_VALUED:
            continue
        elif word[:2] in ("-f", "-p") and len(word) > 2 and not word.startswith("--"):
            continue  # -fFILE, -pNAME
        elif word.startswith("-"):
            return None
        else:
            return word
    return None


def _register_module(name: str, sub: Any, image_sub: Any) -> None:
    module = importlib.import_module(f"orchestrator.cli.{name}")
    if name in ("cmd_images", "cmd_build"):
        module.register(sub, image_sub)
    elif name in ("cmd_info", "cmd_project", "cmd_config"):
        module.register(sub)
    elif name in ("cmd_compose", "cmd_dashboard"):
        module.register(sub, project_name, load)
    else:
        module.register(sub, project_name)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every verb's, or (``verb``) only what parsing that verb needs."""
    parser = argparse.ArgumentParser(prog="pyorch", description="Run Compose projects on pyorch's own runtime.")
    parser.add_argument("-f", "--file", action="append", default=[], help="Compose configuration file(s)")
    parser.add_argument("-p", "--project-name", help="Project name")
    parser.add_argument("--project-directory", help="Alternate working directory")
    parser.add_argument("--env-file", action="append", default=[], help="Alternate environment file(s)")
    parser.add_argument("--profile", action="append", default=[], help="Enable a profile")
    parser.add_argument("--progress", dest="global_progress", choices=build_progress.MODES,
                        help="How builds show their progress: auto, tty, plain or quiet")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def wanted(name: str) -> bool:
        return verb is None or verb == name

    if wanted("up"):
        up = sub.add_parser("up", help="Create and start containers")
        up.add_argument("-d", "--detach", action="store_true", help="Run in the background")
        up.add_argument("--force-recreate", action="store_true")
        up.add_argument("--no-recreate", action="store_true")
        up.add_argument("--remove-orphans", action="store_true")
        up.add_argument("--wait", action="store_true", help="Wait for services to be running|healthy (implies -d)")
        up.add_argument("--wait-timeout", type=float, default=None, help="Seconds to wait for --wait")
        up.add_argument("--pull", choices=["always", "missing", "never"], help="Pull images before starting")
        up.add_argument("--build", action="store_true", help="Build images before starting")
        up.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM", help="Scale a service")
        up.add_argument("--no-deps", action="store_true", help="Don't start linked services")
        up.add_argument("-t", "--timeout", type=float, default=None, help="Shutdown timeout when recreating")
        up.add_argument("--abort-on-container-exit", action="store_true", help="Stop all containers if any exits")
        up.add_argument("--exit-code-from", metavar="SERVICE", help="Return this service's exit code (implies "
                        "--abort-on-container-exit)")
        up.add_argument("--no-color", action="store_true", help="Monochrome log prefixes")
        up.add_argument("--timestamps", action="store_true", help="Show timestamps (attached)")
        up.add_argument("--no-log-prefix", action="store_true", help="Don't print a prefix in logs (attached)")
        up.add_argument("--attach", action="append", default=[], metavar="SERVICE",
                        help="Restrict attaching to the specified services")
        up.add_argument("--no-attach", action="append", default=[], metavar="SERVICE",
                        help="Don't attach (stream logs) to the specified services")
        up.add_argument("services", nargs="*")
        up.set_defaults(run=cmd_up)

    if wanted("down"):
        down = sub.add_parser("down", help="Stop and remove containers and networks")
        down.add_argument("-t", "--timeout", type=float, default=None, help="Shutdown timeout in seconds")
        down.add_argument("--remove-orphans", action="store_true")
        down.add_argument("-v", "--volumes", action="store_true", help="Remove named and anonymous volumes")
        down.add_argument("--rmi", choices=["local", "all"], help="Remove images used by services")
        down.set_defaults(run=cmd_down)

    if wanted("stop"):
        stop = sub.add_parser("stop", help="Stop services (containers are kept; restart policies do not apply)")
        stop.add_argument("-t", "--timeout", type=float, default=None)
        stop.add_argument("--index", type=int, help="Index of the container if the service has several replicas")
        stop.add_argument("services", nargs="*")
        stop.set_defaults(run=cmd_stop)

    if wanted("start"):
        start = sub.add_parser("start", help="Start stopped services")
        start.add_argument("--index", type=int, help="Index of the container if the service has several replicas")
        start.add_argument("services", nargs="*")
        start.set_defaults(run=cmd_start)

    if wanted("restart"):
        restart = sub.add_parser("restart", help="Restart services (and those depending on them with restart: true)")
        restart.add_argument("-t", "--timeout", type=float, default=None)
        restart.add_argument("--no-deps", action="store_true", help="Don't restart dependent services")
        restart.add_argument("--index", type=int, help="Index of the container if the service has several replicas")
        restart.add_argument("services", nargs="*")
        restart.set_defaults(run=cmd_restart)

    if wanted("ps"):
        ps = sub.add_parser("ps", help="List containers")
        ps.add_argument("-a", "--all", action="store_true", help="Show stopped containers too")
        ps.add_argument("-q", "--quiet", action="store_true", help="Only display IDs")
        ps.add_argument("--format", choices=["table", "json"], default="table")
        ps.add_argument("--services", dest="list_services", action="store_true", help="Display services")
        ps.add_argument("services", nargs="*")
        ps.set_defaults(run=cmd_ps)

    if wanted("logs"):
        logs = sub.add_parser("logs", help="View output from containers")
        logs.add_argument("-f", "--follow", action="store_true")
        logs.add_argument("-t", "--timestamps", action="store_true")
        logs.add_argument("-n", "--tail", default="all")
        logs.add_argument("--no-log-prefix", action="store_true")
        logs.add_argument("--no-color", action="store_true", help="Monochrome output")
        logs.add_argument("--since", help="Since a timestamp (2026-01-02T13:23:37Z) or relative (42m)")
        logs.add_argument("--until", help="Until a timestamp or relative time")
        logs.add_argument("--index", type=int, help="Index of the container if the service has several replicas")
        logs.add_argument("services", nargs="*")
        logs.set_defaults(run=cmd_logs)

    if wanted("top"):
        top = sub.add_parser("top", help="Display the running processes")
        top.add_argument("services", nargs="*")
        top.set_defaults(run=cmd_top)

    if wanted("images"):
        images = sub.add_parser("images", help="List images")
        images.set_defaults(run=cmd_images)

    if wanted("import"):
        imp = sub.add_parser("import", help="Import a root filesystem (directory or tarball) as an image")
        imp.add_argument("source")
        imp.add_argument("reference")
        imp.add_argument("--cmd", nargs="+", help="Default command of the image")
        imp.add_argument("--env", action="append", default=[])
        imp.add_argument("--workdir", default="")
        imp.set_defaults(run=cmd_import)

    image_sub: Any = None  # `pyorch image …`; the image modules add verbs there too
    if verb is None or verb in (*_VERB_MODULES["cmd_images"], *_VERB_MODULES["cmd_build"]):
        image = sub.add_parser("image", help="Manage images")
        image_sub = image.add_subparsers(dest="image_command", required=True)
    if wanted("image"):
        boot = image_sub.add_parser("bootstrap", help="Make base images: busybox and python from host files, "
                                    "debian by debootstrap from the host's Debian mirror")
        boot.add_argument("images", nargs="*", metavar="IMAGE", help="busybox, python (the default: both) or debian")
        boot.set_defaults(run=cmd_image_bootstrap)
        ls = image_sub.add_parser("ls", help="List images")
        ls.set_defaults(run=cmd_images)

    for module, verbs in _VERB_MODULES.items():
        if verb is None or verb in verbs:
            _register_module(module, sub, image_sub)

    if wanted("engine"):
        engine = sub.add_parser("engine", help="Control the pyorch engine")
        engine.add_argument("action", choices=["start", "stop", "status"])
        engine.set_defaults(run=cmd_engine)
    return parser


# --- commands --------------------------------------------------------------------------------------

def cmd_up(args: argparse.Namespace, client: EngineClient) -> int:
    from orchestrator.cli import quickname, replicas

    # Attached mode and --build use the model here; otherwise the engine loads the files (see source()).
    project = load(args) if args.build or not (args.detach or args.wait) else None
    inputs = source(args) if project is None else None  # read once: it may hold stdin
    # Builds go through the build route, so their progress shows (the engine's own pre-flight would
    # build a missing image silently): every service's under --build, first. Otherwise the engine
    # names the images `up` would build and does nothing (`builds_by_caller`); they are built here
    # and `up` sent again. Most `up`s build nothing: one request.
    if project is not None:
        from orchestrator.cli import cmd_build as build_verbs

        build_verbs.build_project(client, project, list(args.services) or None,
                                  progress=build_verbs.progress_mode(args), missing=not args.build,
                                  with_dependencies=not args.no_deps)
    options = {"force_recreate": args.force_recreate, "no_recreate": args.no_recreate,
               "remove_orphans": args.remove_orphans, "pull": args.pull, "services": args.services,
               "no_deps": args.no_deps, "timeout": args.timeout, "scale": replicas.parse_scale(args.scale),
               "builds_by_caller": project is None}
    body = {"project": project.model_dump(mode="json")} if project is not None else {"source": inputs}
    name = project.name if project is not None else quickname.quick_project_name(args, os.environ)
    started = time.time()  # attached: the containers' output from here on
    with render.busy(err, f"Starting project {name}" if name else "Starting project"):
        result = client.request("POST", "/v1/projects/up", {**body, "options": options})
    if result.get("build_first"):
        from orchestrator.cli import cmd_build as build_verbs

        build_verbs.build_project(client, None, list(result["build_first"]), progress=build_verbs.progress_mode(args),
                                  missing=True, source=inputs)
        with render.busy(err, f"Starting project {result['project']}"):
            result = client.request("POST", "/v1/projects/up",
                                    {**body, "options": {**options, "builds_by_caller": False}})
    if project is None:
        print_warnings(result.get("warnings") or [])
    render.up_result(err, result)
    if result["errors"]:
        return 1
    if args.wait:
        from orchestrator.cli import cmd_rollout

        cmd_rollout.wait_rollouts(client, result["project"], int(result["revision"]), args.wait_timeout)
        return wait_ready(client, result["project"], args.wait_timeout, result.get("services"))
    if args.detach or project is None:
        return 0
    from orchestrator.cli import attached

    shown = attached.Shown(attach=list(args.attach), no_attach=set(args.no_attach), timestamps=args.timestamps,
                           prefix=not args.no_log_prefix, color=not args.no_color, since=started)
    return attached.follow_up(client, project, out, err, args.abort_on_container_exit, args.exit_code_from, shown)


def wait_ready(client: EngineClient, name: str, timeout: float | None, services: list[str] | None = None) -> int:
    """Compose's --wait: a one-shot another service waits for has completed (exit 0); every other
    service runs, healthy where it has a healthcheck; an exit or unhealthy fails at once. The
    engine judges (GET /ready, the same rules as `depends_on`); this polls it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    query = "&".join(f"service={s}" for s in services or [])
    client.follow()  # the engine `up` talked to: none is started if it goes
    with err.status("Waiting for services to be ready"):
        while True:
            ready = client.request("GET", f"/v1/projects/{name}/ready?{query}")
            if ready["state"] != "waiting":
                break
            if deadline is not None and time.monotonic() > deadline:
                raise PyorchError(f"application not healthy after {timeout:g}s")
            time.sleep(0.2)
    states = ready["services"]
    for row in client.request("GET", f"/v1/projects/{name}/ps?all=1"):
        state = states.get(row["service"])
        if state is None:
            continue
        if state["state"] == "failed":
            err.print(f" [red]✘[/] Container {render.escape(row['name'])}  {render.status_text(row)}")
        elif state["condition"] == "service_completed_successfully":
            err.print(f" [green]✔[/] Container {render.escape(row['name'])}  Exited")
        else:
            err.print(f" [green]✔[/] Container {render.escape(row['name'])}  Healthy")
    failed = [f"service {service} {row['detail']}" for service, row in sorted(states.items())
              if row["state"] == "failed"]
    if failed:
        raise PyorchError(f"application not healthy: {'; '.join(failed)}")
    return 0


def cmd_down(args: argparse.Namespace, client: EngineClient) -> int:
    name = project_name(args)
    with render.busy(err, f"Removing project {name}"):
        result = client.request("POST", f"/v1/projects/{name}/down", {"timeout": args.timeout, "volumes": args.volumes})
    render.down_result(err, result)
    if args.rmi:
        from orchestrator.cli import cmd_compose

        cmd_compose.remove_images(client, cmd_compose.project_images(load(args), args.rmi))
    return 1 if result["errors"] else 0


def cmd_stop(args: argparse.Namespace, client: EngineClient) -> int:
    from orchestrator.cli import replicas

    name = project_name(args)
    result = client.request("POST", f"/v1/projects/{name}/stop",
                            {"services": args.services, "timeout": args.timeout,
                             "containers": replicas.indexed(args, client, name)})
    for c in result["stopped"]:
        err.print(f" [green]✔[/] Container {render.escape(c)}  Stopped")
    return 0


def cmd_start(args: argparse.Namespace, client: EngineClient) -> int:
    from orchestrator.cli import replicas

    name = project_name(args)
    result = client.request("POST", f"/v1/projects/{name}/start",
                            {"services": args.services, "containers": replicas.indexed(args, client, name)})
    return render.verb_result(err, result["started"], "Started", result["errors"])


def cmd_restart(args: argparse.Namespace, client: EngineClient) -> int:
    from orchestrator.cli import replicas

    name = project_name(args)
    result = client.request("POST", f"/v1/projects/{name}/restart",
                            {"services": args.services, "timeout": args.timeout, "no_deps": args.no_deps,
                             "containers": replicas.indexed(args, client, name)})
    return render.verb_result(err, result["restarted"], "Started", result["errors"])


def cmd_ps(args: argparse.Namespace, client: EngineClient) -> int:
    from urllib.parse import urlencode  # here: a command imports what its verb needs

    name = project_name(args)
    query = urlencode([("all", "1" if args.all else "0"), *(("service", s) for s in args.services)])
    rows = client.request("GET", f"/v1/projects/{name}/ps?{query}")  # an unknown service is refused
    if args.list_services:
        for service in dict.fromkeys(r["service"] for r in rows):
            out.print(service, markup=False)
    elif args.quiet:
        for r in rows:
            out.print(r["id"])
    elif args.format == "json":
        out.print_json(json.dumps(rows))
    else:
        render.ps_table(out, rows)
    return 0


def cmd_logs(args: argparse.Namespace, client: EngineClient) -> int:
    from orchestrator.cli import logtime

    name = project_name(args)
    tail = -1 if args.tail == "all" else int(args.tail)
    query = f"follow={'1' if args.follow else '0'}&tail={tail}" + "".join(f"&service={s}" for s in args.services)
    if args.index is not None:
        query += f"&index={args.index}"
    since = logtime.parse_instant(args.since, time.time()) if args.since else None
    until = logtime.parse_instant(args.until, time.time()) if args.until else None
    try:
        for record in client.stream(f"/v1/projects/{name}/logs?{query}"):
            if (since or until) and record.get("time"):
                at = logtime.record_time(record["time"])
                if (since is not None and at < since) or (until is not None and at > until):
                    continue
            render.log_line(record, timestamps=args.timestamps, prefix=not args.no_log_prefix,
                            color=not args.no_color)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_top(args: argparse.Namespace, client: EngineClient) -> int:
    name = project_name(args)
    query = "&".join(f"service={s}" for s in args.services)
    render.top(out, client.request("GET", f"/v1/projects/{name}/top?{query}"))
    return 0


def cmd_images(args: argparse.Namespace, client: EngineClient) -> int:
    render.images_table(out, client.request("GET", "/v1/images"))
    return 0


def cmd_import(args: argparse.Namespace, client: EngineClient) -> int:
    body = {"source": str(Path(args.source).resolve()), "reference": args.reference, "cmd": args.cmd,
            "env": args.env, "working_dir": args.workdir}
    image = client.request("POST", "/v1/images/import", body)
    out.print(image["id"])
    return 0


def cmd_image_bootstrap(args: argparse.Namespace, client: EngineClient) -> int:
    names = list(dict.fromkeys(args.images)) or ["busybox", "python"]
    unknown = [n for n in names if n not in ("busybox", "python", "debian")]
    if unknown:
        raise PyorchError(f"no base image {', '.join(unknown)} (choose from busybox, python, debian)")
    what = ("Bootstrapping Debian from the host's mirror" if "debian" in names
            else "Building base images from host files")
    with err.status(what):
        result = client.request("POST", "/v1/images/bootstrap", {"images": names}, timeout=1800.0)
    for ref in result["images"]:
        out.print(ref)
    return 0


def cmd_engine(args: argparse.Namespace, client: EngineClient) -> int:
    if args.action == "start":
        client.ensure_engine()
        out.print(f"engine running, socket {client.socket_path}")
    elif args.action == "stop":
        if client.alive():
            client.request("POST", "/v1/engine/shutdown", {}, autostart=False)
        out.print("engine stopped (containers keep running)")
    else:
        out.print("running" if client.alive() else "stopped")
    return 0


def main(argv: list[str] | None = None) -> None:
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(verb_of(words)).parse_args(words)
    run: Callable[[argparse.Namespace, EngineClient], int] = args.run
    try:
        client = EngineClient(run_root_of(os.environ))
        code = run(args, client)
    except ComposeError as exc:
        err.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        code = 15
    except (PyorchError, ValueError) as exc:
        err.print(f"[red]error:[/] {render.escape(str(exc))}")
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


