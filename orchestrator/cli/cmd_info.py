"""`pyorch info`: what the engine found at start-up about this kernel, and the fallbacks in use."""

from __future__ import annotations

import argparse
import json
from typing import Any

from orchestrator.cli import render
from orchestrator.cli.client import EngineClient
from orchestrator.cli.console import out


def register(sub: Any) -> None:
    info = sub.add_parser("info", help="Show the kernel features the engine probed and the mechanisms it uses")
    info.add_argument("--format", choices=["table", "json"], default="table")
    info.set_defaults(run=_info)


def _yes(value: object) -> str:
    return "yes" if value else "[red]no[/]"


def rows(features: dict[str, Any]) -> list[tuple[str, str]]:
    """The probe as (what, answer) lines; pure, so the wording is tested without an engine."""
    controllers = features.get("controllers") or {}
    overlay = features.get("overlay_options") or {}
    return [
        ("kernel", str(features.get("kernel", ""))),
        ("cgroup mode", str(features.get("cgroup_mode", ""))),
        ("controllers", " ".join(f"{c}:{where}" for c, where in sorted(controllers.items())) or "[red]none[/]"),
        ("cgroup.kill", _yes(features.get("cgroup_kill"))),
        ("cgroup2 favordynmods", _yes(features.get("cgroup_favordynmods"))),
        ("freezer", str(features.get("freezer", ""))),
        ("device allowlist", str(features.get("devices", ""))),
        ("pidfd_open", _yes(features.get("pidfd_open"))),
        ("pidfd exit info", _yes(features.get("pidfd_exit_info"))),
        ("close_range", _yes(features.get("close_range"))),
        ("overlayfs", _yes(features.get("overlay"))
         + (" (" + " ".join(f"{k}={v}" for k, v in sorted(overlay.items())) + ")" if overlay else "")),
        ("seccomp", _yes(features.get("seccomp")) + (f" (actions: {' '.join(features.get('seccomp_actions') or [])})"
                                                      if features.get("seccomp") else "")),
        ("libseccomp binding", f"API level {features['seccomp_binding']}" if features.get("seccomp_binding")
         else "[red]missing[/]"),
        ("bridge netfilter", _bridge_netfilter(features.get("bridge_netfilter"))),
        ("uplink", _uplink(features.get("uplink"))),
    ]


def _bridge_netfilter(found: dict[str, Any] | None) -> str:
    if not found or found.get("module") == "absent":
        return "br_netfilter not loaded (bridged frames skip the ip hooks)"
    calls = " ".join(f"{name}={found.get('call_' + name)}" for name in ("iptables", "ip6tables", "arptables"))
    return f"br_netfilter {found.get('module')}: bridge-nf-call {calls}"


def _uplink(found: dict[str, Any] | None) -> str:
    if not found:
        return "no IPv4 default route (new networks: MTU 1500)"
    return f"{found['ifname']}, MTU {found['mtu']} (new networks' default MTU)"


def _info(args: argparse.Namespace, client: EngineClient) -> int:
    features: dict[str, Any] = client.request("GET", "/v1/info")
    if args.format == "json":
        out.print_json(json.dumps(features))
        return 0
    from rich.table import Table  # lazily: only this verb draws it

    table = Table(show_header=False, box=None, pad_edge=False)
    for what, answer in rows(features):
        table.add_row(f"[bold]{render.escape(what)}[/]", answer)
    out.print(table)
    for note in features.get("notes") or []:
        out.print(f"[yellow]![/] {render.escape(note)}")
    return 0
