"""What one pyorch instance holds right now, read from the kernel and the state root (not from the
engine): the fault-injection tests compare it with what `ps` says after a crash was recovered,
and with nothing after `down`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from runtime.container.shim_client import ShimClient
from runtime.container.state import load_record
from runtime.layout import HostLayout
from runtime.network.state import StateFile

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass
class Census:
    bundles: set[str] = field(default_factory=set)          # every directory under containers/
    cgroups: set[str] = field(default_factory=set)          # container cgroups (the shim's spare left out)
    busy_cgroups: set[str] = field(default_factory=set)     # those with a process in them
    shim_children: set[int] = field(default_factory=set)    # container PID 1s, execs (and the warm process)
    cgroup_of: dict[int, str] = field(default_factory=dict)  # shim child -> the container cgroup it is in
    pids: dict[str, int] = field(default_factory=dict)      # container id -> its recorded pid
    allocations: set[tuple[str, str]] = field(default_factory=set)  # (container id, network)
    networks: set[str] = field(default_factory=set)
    ports: set[str] = field(default_factory=set)
    links: set[str] = field(default_factory=set)             # this instance's bridges and veths
    nft_table: bool = False
    store_rows: dict[str, int] = field(default_factory=dict)
    teardowns: int = 0
    spare: str | None = None                                 # the shim's spare cgroups' id

    def leftovers(self, warm: int | None) -> list[str]:
        """Everything that must not exist once no project is up."""
        found = [f"bundle {b}" for b in sorted(self.bundles)]
        found += [f"cgroup {c}" for c in sorted(self.cgroups)]
        found += [f"process {p} (a child of the shim)" for p in sorted(self.shim_children - {warm or 0})]
        found += [f"address of {cid[:12]} on {net}" for cid, net in sorted(self.allocations)]
        found += [f"network {n}" for n in sorted(self.networks)] + [f"published port {p}" for p in sorted(self.ports)]
        found += [f"link {name}" for name in sorted(self.links)]
        found += ["nftables table"] if self.nft_table else []
        found += [f"{n} store rows in {table}" for table, n in sorted(self.store_rows.items()) if n]
        found += [f"{self.teardowns} teardown(s) owed"] if self.teardowns else []
        return found


def take(layout: HostLayout) -> Census:
    census = Census()
    root = layout.containers_dir
    for bundle in sorted(root.iterdir()) if root.exists() else []:
        census.bundles.add(bundle.name)
        record = load_record(bundle)
        if record is not None and record.pid:
            census.pids[bundle.name] = record.pid
    spare = census.spare = shim_spare(layout)
    for hierarchy in CGROUP_ROOT.iterdir():
        parent = hierarchy / layout.cgroup_parent
        if not parent.is_dir():
            continue
        for child in parent.iterdir():
            if child.is_dir() and child.name != spare:
                census.cgroups.add(child.name)
                if _has_processes(child):
                    census.busy_cgroups.add(child.name)
    shim = shim_pid(layout)
    if shim:
        children = {pid: _container_cgroup(pid, layout) for pid in children_of(shim)}
        # A child gone between the listing and the read of its cgroup (a probe's exec that ended)
        # is no child any more: counted, it made two candidates for the warm process.
        census.shim_children = {pid for pid, cid in children.items() if cid is not None}
        census.cgroup_of = {pid: cid for pid, cid in children.items() if cid}
    state = _network_state(layout)
    for name, raw in state.get("networks", {}).items():
        census.networks.add(name)
        census.allocations |= {(cid, name) for cid in raw.get("allocations", {}).values()}
    census.ports = set(state.get("ports", {}))
    census.links = {n for n in _links() if n.startswith((layout.link_prefix("pyb"), layout.link_prefix("pyv")))}
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
    census.nft_table = any(line.split()[-1] == layout.nft_table for line in tables.splitlines() if line)
    census.store_rows, census.teardowns = _store_rows(layout)
    return census


def shim_pid(layout: HostLayout) -> int | None:
    try:
        return ShimClient(layout.run_root).shim_pid() if (layout.run_root / "shim.sock").exists() else None
    except OSError:
        return None


def shim_spare(layout: HostLayout) -> str | None:
    """The id of the cgroups the shim keeps ahead of time for its warm process (not a container)."""
    try:
        directories = json.loads((layout.run_root / "spare-cgroups.json").read_text())
    except (OSError, ValueError):
        return None
    return os.path.basename(directories[0]) if directories else None


def warm_pid(layout: HostLayout, census: Census) -> int | None:
    """The shim's warm process: its one child that is no container's PID 1 and in no container's
    cgroup (an exec's): in its spare cgroups, or in none of this instance's."""
    others = {pid for pid in census.shim_children - set(census.pids.values())
              if census.cgroup_of.get(pid, "") in ("", census.spare)}
    return next(iter(others)) if len(others) == 1 else None


def children_of(pid: int) -> set[int]:
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(proc.name))
    return found


def _container_cgroup(pid: int, layout: HostLayout) -> str | None:
    """The container id of the cgroup ``pid`` is in ("" when in none of this instance's; None
    when the process is gone)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        if _is_zombie(pid):
            return None
    except OSError:
        return None
    marker = f"/{layout.cgroup_parent}/"
    for line in lines:
        path = line.split(":", 2)[-1]
        if marker in path:
            return path.split(marker, 1)[1].split("/", 1)[0]
    return ""


def _is_zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _has_processes(cgroup: Path) -> bool:
    try:
        return bool((cgroup / "cgroup.procs").read_text().strip())
    except OSError:
        return False


def _network_state(layout: HostLayout) -> dict[str, dict[str, dict[str, object]]]:
    try:
        data: dict[str, dict[str, dict[str, object]]] = StateFile(layout.networks_dir).read()
        return data
    except (OSError, ValueError):
        return {}


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines() if ": " in line}


def _store_rows(layout: HostLayout) -> tuple[dict[str, int], int]:
    path = layout.state_root / "engine.db"
    if not path.exists():
        return {}, 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("containers", "attachments", "projects")}
        teardowns = int(db.execute("SELECT COUNT(*) FROM teardowns").fetchone()[0])
    finally:
        db.close()
    return rows, teardowns


def integrity(layout: HostLayout) -> str:
    """SQLite's own check of the engine's database ("ok" when it is consistent)."""
    db = sqlite3.connect(f"file:{layout.state_root / 'engine.db'}?mode=ro", uri=True)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()
