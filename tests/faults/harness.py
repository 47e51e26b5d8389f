"""Driving an instance through a fault: an engine armed to SIGKILL itself at a numbered crash
point (runtime/faults.py), requests sent as the CLI or a plain API client sends them, and the
checks every scenario ends with: what `ps` shows is exactly what the kernel holds, and nothing is
left after `down`.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime.gc import purge_instance
from runtime.layout import HostLayout
from tests.faults import census
from tests.helpers import REPO, env_for, wait_until

KILLS_PER_SCENARIO = 10


def engine_pid(layout: HostLayout) -> int | None:
    try:
        pid = int((layout.run_root / "engine.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    """The process runs (a zombie does not; one that is our child is reaped here)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def restart_engine(layout: HostLayout, **env: str) -> int:
    """Stop the engine (containers keep running) and start a new one with ``env`` (an armed one),
    as `pyorch engine stop` and `engine start` do, without a CLI process for each (a second or
    more apiece on a busy machine, and the suite does this some sixty times)."""
    pid = engine_pid(layout)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        wait_dead(pid, "the engine to stop")
    log = open(layout.run_root / "engine.log", "ab")
    with log:
        subprocess.Popen([sys.executable, "-m", "orchestrator.engine.daemon"], cwd=REPO, env=env_for(layout, **env),
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    wait_until(lambda: _answers(layout), "the new engine to answer")
    pid = engine_pid(layout)
    assert pid is not None
    return pid


def _answers(layout: HostLayout) -> bool:
    try:
        return api(layout, "GET", "/v1/ping", timeout=2.0).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def armed(layout: HostLayout, kill_at: int) -> int:
    """A new engine that SIGKILLs itself at its ``kill_at``th crash point; returns its pid."""
    return restart_engine(layout, PYORCH_CRASH_AT=str(kill_at))


def wait_dead(pid: int, what: str, deadline_s: float = 60.0) -> None:
    wait_until(lambda: not alive(pid), what, deadline_s)


def engine_log(layout: HostLayout, lines: int = 40) -> str:
    try:
        return "\n".join((layout.run_root / "engine.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def api(layout: HostLayout, method: str, path: str, body: Any = None, timeout: float = 120.0) -> bytes:
    """One request as a plain API client sends it (no retry): the raw answer, b"" if the engine died."""
    payload = b"" if body is None else json.dumps(body).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(layout.run_root / "engine.sock"))
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     f"Content-Length: {len(payload)}\r\nContent-Type: application/json\r\n\r\n".encode() + payload)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def up_body(file: str, env: dict[str, str]) -> dict[str, Any]:
    """What `pyorch -f FILE up -d` sends (the engine loads the files itself)."""
    path = Path(file)
    return {"source": {"files": [str(path)], "working_dir": str(path.parent), "environ": {**os.environ, **env}},
            "options": {}}


def ps(layout: HostLayout, project: str) -> list[dict[str, Any]]:
    """What `pyorch ps -a --format json` prints, asked of the running engine directly."""
    answer = api(layout, "GET", f"/v1/projects/{project}/ps?all=1")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:300]
    rows: list[dict[str, Any]] = json.loads(body)
    return rows


def mismatches(layout: HostLayout, rows: list[dict[str, Any]], expected: list[str] | None) -> list[str]:
    """How the instance differs from exactly ``expected`` containers (any names when None, each
    once) running, every trace of them in the kernel and the state root and nothing else (empty
    when it matches)."""
    problems = []
    names = sorted(str(r["name"]) for r in rows)
    if expected is not None and names != sorted(expected):
        problems.append(f"containers {names}, expected {sorted(expected)}")
    if len(set(names)) != len(names):
        problems.append(f"a name twice: {names}")
    problems += [f"{r['name']} is {r['status']}" for r in rows if r["status"] != "running"]
    ids = {str(r["id"]) for r in rows}
    seen = census.take(layout)
    if seen.bundles != ids:
        problems.append(f"bundles not listed: {sorted(seen.bundles - ids)}; "
                        f"listed without one: {sorted(ids - seen.bundles)}")
    if seen.cgroups != ids:
        problems.append(f"cgroups not listed: {sorted(seen.cgroups - ids)}; missing: {sorted(ids - seen.cgroups)}")
    strays = _strays(seen, ids, layout)
    for _ in range(3):  # a probe's exec forked but not yet in its container's cgroup passes: a stray stays
        if not strays:
            break
        time.sleep(0.2)
        strays &= _strays(census.take(layout), ids, layout)
    if strays:
        problems.append(f"processes of the shim that are no listed container's: {describe(strays)}")
    owners = {cid for cid, _ in seen.allocations}
    if owners - ids:
        problems.append(f"addresses held by containers not listed: {sorted(c[:12] for c in owners - ids)}")
    return problems


def _strays(seen: census.Census, ids: set[str], layout: HostLayout) -> set[int]:
    """Children of the shim that are no listed container's PID 1, exec or the warm process."""
    pid1s = {seen.pids[i] for i in ids if i in seen.pids}
    warm = census.warm_pid(layout, seen)
    execs = {pid for pid, cid in seen.cgroup_of.items() if cid in ids}  # health probes, `exec`
    return seen.shim_children - pid1s - execs - {warm or 0}


def describe(pids: set[int]) -> list[str]:
    """Each process as ``pid: command line [its cgroup]`` (what a failure message needs)."""
    shown = []
    for pid in sorted(pids):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cgroup = Path(f"/proc/{pid}/cgroup").read_text().splitlines()[0]
        except OSError:
            cmdline, cgroup = "(gone)", ""
        shown.append(f"{pid}: {cmdline[:80]} [{cgroup}]")
    return shown


def leftovers(layout: HostLayout) -> list[str]:
    seen = census.take(layout)
    return seen.leftovers(census.warm_pid(layout, seen))


def kill_points(total: int, seed: str) -> list[int]:
    """``KILLS_PER_SCENARIO`` distinct crash points out of ``total``, the same for the same seed
    and total (spread over the whole scenario: the first and the last always among them)."""
    if total <= KILLS_PER_SCENARIO:
        return list(range(1, total + 1))
    rng = random.Random(f"{seed}:{total}")
    middle = rng.sample(range(2, total), KILLS_PER_SCENARIO - 2)
    return sorted({1, total, *middle})


@contextmanager
def scratch_instance(shared_images: Path) -> Iterator[HostLayout]:
    """A private instance outside any test (to count a scenario's crash points), purged after."""
    tmp = Path(tempfile.mkdtemp(prefix="pyorch-faults-"))
    (tmp / "state").mkdir()
    (tmp / "state" / "images").symlink_to(shared_images)
    layout = HostLayout(state_root=tmp / "state", run_root=tmp / "run", instance="f" + secrets.token_hex(3))
    try:
        yield layout
    finally:
        purge_instance(layout)
        shutil.rmtree(tmp, ignore_errors=True)


def count_points(layout: HostLayout, trace: Path) -> list[str]:
    """The crash points a traced engine went through (``N name`` lines, in order)."""
    try:
        return trace.read_text().splitlines()
    except FileNotFoundError:
        return []


def sigkill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {result.stderr}")
    return result

