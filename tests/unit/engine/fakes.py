"""A container runtime, network manager and scheduler in memory, for the engine's unit tests.

They keep what the engine asked of them (containers with their labels and states, addresses,
published backends, timers), so a test can build the real `Engine` without root and in
milliseconds, drive its decisions, and read what reached the data plane.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator.engine.engine import Engine
from orchestrator.engine.labels import LABEL_SERVICE
from orchestrator.engine.store import Store
from orchestrator.spec import LoadOptions, Project, load_project
from runtime.container.runconfig import RunConfig
from runtime.container.state import ContainerInfo, ContainerRecord
from runtime.errors import ContainerNotFound, RuntimeFailure
from runtime.image import ImageConfig
from runtime.layout import HostLayout
from runtime.network import Attachment, NetworkInfo, NetworkSpec, PortBinding


@dataclass
class _Image:
    id: str
    config: ImageConfig


class FakeImages:
    def __init__(self, root: Path) -> None:
        self.root = root  # where the pull policy keeps its record of pulls
        self.healthchecks: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, str] = {}  # a reference moved to another image (a pull or build)

    def resolve(self, reference: str) -> _Image:
        if reference.startswith("sha256:"):
            return _Image(reference, ImageConfig())
        image_id = self.tags.get(reference, "sha256:" + reference)
        return _Image(image_id, ImageConfig(healthcheck=self.healthchecks.get(reference)))


@dataclass
class _Container:
    record: ContainerRecord
    status: str = "created"
    exit_code: int | None = None
    finished_at: float | None = None

    def info(self) -> ContainerInfo:
        return ContainerInfo(replace(self.record, labels=dict(self.record.labels)), self.status, self.exit_code,
                             self.finished_at)


class FakeSession:
    """An exec that has already finished: its output waits in a pipe, its exit code is known."""

    def __init__(self, code: int, output: bytes = b"") -> None:
        self.pid = 0
        self.code = code
        read, write = os.pipe()
        os.write(write, output)
        os.close(write)
        self._read = read

    def raw_fds(self) -> list[tuple[int, str]]:
        return [(self._read, "stdout")]

    def wait(self, timeout: float = 30.0) -> int:
        os.close(self._read)
        return self.code


class FakeRuntime:
    """Containers as records in a dict; every call that changes one is logged in `calls`.

    `exits[service or image] = code`: those containers exit with ``code`` as soon as they start
    (a one-shot, or a crash); `probe_codes[container or service name] = code`: what their health
    probes return.
    """

    def __init__(self, root: Path) -> None:
        self.images = FakeImages(root)
        self.store: dict[str, _Container] = {}
        self.calls: list[tuple[str, str]] = []
        self.exits: dict[str, int] = {}
        self.probe_codes: dict[str, int] = {}
        self.reads = 0  # calls of containers(): how often the engine observed
        self.inspects = 0  # calls of inspect(): one container's files read
        self._ids = itertools.count(1)
        self._pids = itertools.count(1000)

    # --- what the executor calls -------------------------------------------------------------------
    def create(self, config: RunConfig, on_pid: Callable[[str, int], object] | None = None,
               start: bool = False) -> ContainerInfo:
        cid = f"{next(self._ids):064x}"
        record = ContainerRecord(id=cid, name=config.name, image=config.image,
                                 image_id=self.images.resolve(config.image_id or config.image).id,
                                 created_at=time.time(), labels=dict(config.labels), pid=next(self._pids))
        self.store[cid] = _Container(record)
        self.calls.append(("create", config.name))
        if on_pid is not None:
            on_pid(cid, record.pid)
        if start:
            return self.start(cid)
        return self.store[cid].info()

    def respawn(self, cid: str, restart_count: int,
                on_pid: Callable[[str, int], object] | None = None) -> ContainerInfo:
        c = self._get(cid)
        c.record.restart_count = restart_count
        c.record.pid = next(self._pids)
        c.status, c.exit_code, c.finished_at = "created", None, None
        self.calls.append(("respawn", c.record.name))
        if on_pid is not None:
            on_pid(cid, c.record.pid)
        return c.info()

    def start(self, cid: str) -> ContainerInfo:
        c = self._get(cid)
        c.status = "running"
        c.record.started_at = time.time()
        self.calls.append(("start", c.record.name))
        code = self.exits.get(c.record.image, self.exits.get(c.record.labels.get(LABEL_SERVICE, "")))
        if code is not None:
            self.exit(cid, code)
        return c.info()

    def stop(self, cid: str, timeout: float | None = None) -> ContainerInfo:
        c = self._get(cid)
        if c.status in ("running", "paused"):
            self.exit(cid, 0)
        self.calls.append(("stop", c.record.name))
        return c.info()

    def kill(self, cid: str, sig: int = 9) -> None:
        c = self._get(cid)
        self.exit(cid, 128 + sig)
        self.calls.append(("kill", c.record.name))

    def pause(self, cid: str) -> ContainerInfo:
        self._get(cid).status = "paused"
        self.calls.append(("pause", self._get(cid).record.name))
        return self._get(cid).info()

    def unpause(self, cid: str) -> ContainerInfo:
        self._get(cid).status = "running"
        self.calls.append(("unpause", self._get(cid).record.name))
        return self._get(cid).info()

    def remove(self, cid: str, force: bool = False) -> None:
        c = self.store.pop(cid, None)
        if c is None:
            raise ContainerNotFound(f"no such container: {cid}")
        self.calls.append(("remove", c.record.name))

    @contextlib.contextmanager
    def removing(self, cid: str, exclusive: bool = False) -> Iterator[None]:
        self._get(cid)
        yield

    def collect_debris(self) -> list[str]:
        return []

    def set_hosts(self, cid: str, entries: list[tuple[str, str]]) -> None:
        pass

    def archive_logs(self, cid: str, dest: Path) -> bool:
        return False  # a fake container writes no log

    # --- what observation and queries read ---------------------------------------------------------
    def containers(self) -> list[ContainerInfo]:
        self.reads += 1
        return [c.info() for c in list(self.store.values())]

    def exists(self, cid: str) -> bool:
        return cid in self.store

    def inspect(self, cid: str) -> ContainerInfo:
        self.inspects += 1
        return self._get(cid).info()

    def exec(self, cid: str, args: list[str], **options: Any) -> FakeSession:
        c = self._get(cid)
        if c.status != "running":
            raise RuntimeFailure(f"container {cid[:12]} is not running")
        code = self.probe_codes.get(c.record.name, self.probe_codes.get(c.record.labels.get(LABEL_SERVICE, ""), 0))
        return FakeSession(code, b"ok\n" if code == 0 else b"failing\n")

    def processes(self, cid: str) -> list[dict[str, Any]]:
        return []

    def cgroup(self, cid: str) -> None:
        return None

    # --- what a test does to the containers ---------------------------------------------------------
    def exit(self, cid: str, code: int) -> None:
        c = self._get(cid)
        c.status, c.exit_code, c.finished_at = "exited", code, time.time()

    def by_name(self, name: str) -> ContainerInfo:
        return next(c.info() for c in list(self.store.values()) if c.record.name == name)

    def names(self, status: str | None = None) -> list[str]:
        return sorted(c.record.name for c in list(self.store.values()) if status is None or c.status == status)

    def _get(self, cid: str) -> _Container:
        try:
            return self.store[cid]
        except KeyError:
            raise ContainerNotFound(f"no such container: {cid}") from None


class FakeNetwork:
    """Networks, addresses and the published backends, as the network manager would hold them."""

    def __init__(self) -> None:
        self.networks: dict[str, NetworkInfo] = {}
        self.addresses: dict[tuple[str, str], str] = {}
        self.published: dict[str, tuple[list[PortBinding], list[str]]] = {}
        self.publish_calls = 0
        self.history: list[dict[str, list[str]]] = []  # the backends of every publish, in order
        self._hosts = itertools.count(2)
        self._ports = itertools.count(40000)

    def ensure_network(self, spec: NetworkSpec) -> NetworkInfo:
        if spec.name not in self.networks:
            index = len(self.networks) + 1
            self.networks[spec.name] = NetworkInfo(spec.name, f"br{index}", f"10.99.{index}.0/24",
                                                   f"10.99.{index}.1", spec.internal, labels=dict(spec.labels))
        return self.networks[spec.name]

    def list_networks(self) -> list[NetworkInfo]:
        return list(self.networks.values())

    def connect(self, container_id: str, pid: int, network_name: str, ipv4_address: str | None = None,
                aliases: tuple[str, ...] = (), ifname: str = "eth0", default_route: bool = True) -> Attachment:
        info = self.networks[network_name]
        ip = ipv4_address or info.subnet.rsplit(".", 1)[0] + f".{next(self._hosts)}"
        self.addresses[(container_id, network_name)] = ip
        return Attachment(ip, "02:00:00:00:00:01", ifname, "veth", info.gateway, network_name)

    def disconnect(self, container_id: str, network_name: str) -> None:
        self.addresses.pop((container_id, network_name), None)

    def release_addresses(self, attachments: list[tuple[str, str]]) -> None:
        for key in attachments:
            self.addresses.pop(key, None)

    def await_veths_gone(self, attachments: list[tuple[str, str]], grace: float = 1.0) -> None:
        pass

    def holdings(self) -> dict[str, list[str]]:
        held: dict[str, list[str]] = {}
        for cid, network in sorted(self.addresses):
            held.setdefault(cid, []).append(network)
        return held

    def holders(self) -> set[str]:
        return {cid for cid, _ in self.addresses}

    def release_unknown(self, known: Callable[[str], bool]) -> list[tuple[str, str]]:
        freed = [key for key in self.addresses if not known(key[0])]
        self.release_addresses(freed)
        return freed

    def remove_networks(self, names: list[str]) -> None:
        for name in names:
            self.networks.pop(name, None)

    def publish_all(self, publications: dict[str, tuple[list[PortBinding], list[str]]]) -> None:
        self.publish_calls += 1
        self.published.update({k: (list(b), list(ips)) for k, (b, ips) in publications.items()})
        self.history.append({k: list(ips) for k, (_, ips) in publications.items()})

    def unpublish_all(self, keys: list[str]) -> None:
        for key in keys:
            self.published.pop(key, None)

    def published_keys(self) -> list[str]:
        return sorted(self.published)

    def allocate_host_port(self, protocol: str = "tcp", within: tuple[int, int] | None = None) -> int:
        return within[0] if within else next(self._ports)

    def check_ports(self, key: str, bindings: list[PortBinding], listening: dict[str, set[int]]) -> None:
        pass

    def backends(self, project: str, service: str) -> list[str]:
        return self.published[f"{project}/{service}"][1]


@dataclass
class FakeJob:
    func: Callable[..., Any]
    trigger: str
    kwargs: dict[str, Any] = field(default_factory=dict)


class FakeScheduler:
    """Records timers instead of running them: a test runs what it wants, when it wants."""

    def __init__(self) -> None:
        self.jobs: list[FakeJob] = []

    def add_job(self, func: Callable[..., Any], trigger: str, **kwargs: Any) -> FakeJob:
        job = FakeJob(func, trigger, kwargs)
        if kwargs.get("replace_existing") and "id" in kwargs:  # as APScheduler: one job per id
            self.jobs = [j for j in self.jobs if j.kwargs.get("id") != kwargs["id"]]
        self.jobs.append(job)
        return job

    def get_job(self, job_id: str) -> None:
        return None

    def run_probes(self) -> int:
        """Run every health probe that is due (each schedules its successor); how many ran."""
        due = [j for j in self.jobs if getattr(j.func, "__name__", "") == "_probe"]
        self.jobs = [j for j in self.jobs if j not in due]
        for job in due:
            job.func(*job.kwargs.get("args", ()))
        return len(due)

    def wakes(self) -> list[float]:
        """The times of the passes asked for with `wake(at=…)` (restart delays), as epoch seconds."""
        return [j.kwargs["run_date"].timestamp() for j in self.jobs if j.trigger == "date"
                and getattr(j.func, "__name__", "") == "wake"]

    def start(self) -> None:
        pass

    def shutdown(self, wait: bool = True) -> None:
        pass


@dataclass
class Harness:
    engine: Engine
    runtime: FakeRuntime
    network: FakeNetwork
    scheduler: FakeScheduler
    root: Path

    def project(self, text: str) -> dict[str, Any]:
        """The canonical spec of a Compose file (what `up` stores)."""
        path = self.root / "compose.yaml"
        path.write_text(text)
        loaded: Project = load_project(LoadOptions(files=[path], working_dir=self.root, environ={}))
        spec: dict[str, Any] = loaded.model_dump(mode="json")
        return spec


def build(tmp_path: Path) -> Harness:
    """The real engine over the fakes, in a temporary state root."""
    layout = HostLayout(state_root=tmp_path / "state", run_root=tmp_path / "run", instance="unit")
    runtime, network, scheduler = FakeRuntime(layout.images_dir), FakeNetwork(), FakeScheduler()
    runtime.layout = layout  # type: ignore[attr-defined]  # where removed containers' logs would be kept
    engine = Engine(layout, Store(layout.state_root / "engine.db"), runtime, network, scheduler,  # type: ignore[arg-type]
                    dns=lambda: None)
    return Harness(engine, runtime, network, scheduler, tmp_path)
