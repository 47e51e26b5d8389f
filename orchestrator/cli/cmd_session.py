"""`exec` and `attach`: a person's terminal on a service's container (session.py drives it).

Like `docker compose exec`, a pty is allocated when our stdin and stdout are terminals (`-T`
turns it off) and stdin is always forwarded; `run` (cmd_compose.py) does the same for a one-off.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from orchestrator.cli import cmd_compose, session
from orchestrator.cli.client import EngineClient
from orchestrator.errors import PyorchError

ProjectName = Callable[[argparse.Namespace], str]


def register(sub: Any, project_name: ProjectName) -> None:
    execp = sub.add_parser("exec", help="Execute a command in a running container")
    execp.add_argument("-d", "--detach", action="store_true", help="Run the command in the background")
    execp.add_argument("-T", "--no-TTY", action="store_true",
                       help="Disable pseudo-TTY allocation (default: a TTY when stdin and stdout are terminals)")
    execp.add_argument("-i", "--interactive", action="store_true", default=True,
                       help="Keep STDIN open (the default, as Compose)")
    execp.add_argument("-e", "--env", action="append", default=[], help="KEY=VALUE, or KEY to take it from here")
    execp.add_argument("-u", "--user")
    execp.add_argument("-w", "--workdir")
    execp.add_argument("--index", type=int, default=1, help="Index of the container if the service has several")
    execp.add_argument("--detach-keys", default=session.DEFAULT_DETACH_KEYS,
                       help="Key sequence that leaves the command running (default ctrl-p,ctrl-q)")
    execp.add_argument("service")
    execp.add_argument("command", nargs=argparse.REMAINDER)
    execp.set_defaults(run=lambda a, c: _exec(a, c, project_name))

    attach = sub.add_parser("attach", help="Attach local standard input, output, and error streams to a "
                            "service's running container")
    attach.add_argument("--index", type=int, default=1, help="Index of the container if the service has several")
    attach.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    attach.add_argument("--sig-proxy", default="true", choices=["true", "false"],
                        help="Proxy received signals to the process (without a TTY)")
    attach.add_argument("--detach-keys", default=session.DEFAULT_DETACH_KEYS,
                        help="Key sequence that detaches (default ctrl-p,ctrl-q)")
    attach.add_argument("service")
    attach.set_defaults(run=lambda a, c: _attach(a, c, project_name))


def _exec(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    if not args.command:
        raise PyorchError("exec needs a command, e.g. pyorch exec web sh -c 'id'")
    keys = session.parse_detach_keys(args.detach_keys)
    tty = session.wants_tty(args.no_TTY) and not args.detach
    stdin = not args.detach
    body = {"service": args.service, "index": args.index, "args": args.command,
            "env": cmd_compose.env_entries(args.env, dict(os.environ)), "user": args.user, "workdir": args.workdir,
            "tty": tty, "stdin": stdin, "size": session.terminal_size() if tty else None}
    _, sock = client.handover(f"/v1/projects/{name}/sessions/exec", body)
    if args.detach:  # the command runs on; its output is not kept (as `docker compose exec -d`)
        with sock:
            sock.sendall(session.frame(session.DETACH))
        return 0
    code = session.run(sock, session.Options(tty=tty, stdin=stdin, detach_keys=keys))
    return 0 if code is None else code


def _attach(args: argparse.Namespace, client: EngineClient, project_name: ProjectName) -> int:
    name = project_name(args)
    keys = session.parse_detach_keys(args.detach_keys)
    reply, sock = client.handover(f"/v1/projects/{name}/sessions/attach",
                                  {"service": args.service, "index": args.index, "stdin": not args.no_stdin})
    tty = bool(reply["tty"])
    stdin = not args.no_stdin and bool(reply["stdin_open"])
    code = session.run(sock, session.Options(tty=tty, stdin=stdin, detach_keys=keys,
                                             sig_proxy=args.sig_proxy == "true" and not tty))
    return 0 if code is None else code
