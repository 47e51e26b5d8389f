"""Publishing: which running replicas take a published port's new connections, and which names
the embedded DNS answers, applied to the kernel and the DNS server.

The one door to port rules and DNS tables. A replica leaves the rotation when a rollout has not
admitted it yet or is draining it (the exclusion sources), or while an unhealthy one is being
restarted (`leaving`). One publisher at a time computes and applies together: otherwise a pass
that read the backends before a drain hid a replica could apply its older set after the drain's.

DNS gets the same care as the ports, and follows containers as they come and go, not only after
a pass: the executor tells the publisher when a container has started (its names resolve at
once, also while `up` still waits on a later dependency wave: a one-shot gated on
`db: service_healthy` must resolve `db`) and before it stops one (its addresses leave every
table first). Containers left out of the ports are left out of DNS, of every project.

A replica leaves the balancer before it is stopped, whatever stops it: before a graceful stop
the executor announces (a scale-down, a recreate, `stop`, `rm -s`, the removal of a replica a
crash left in excess), a running replica that takes a published port's connections is taken out
of the port's set (one transaction) and its open connections get a bounded time to finish, as a
rollout drains its old replicas. A stop with no port to leave (`down` unpublished first) waits
for nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from orchestrator.engine.discovery import container_dns, dns_tables, dns_views
from orchestrator.engine.observation import Observation, Observe
from orchestrator.engine.ports import port_key, service_bindings, tcp_targets
from orchestrator.engine.projects import Loaded, ProjectLoader
from orchestrator.engine.store import Store
from orchestrator.errors import EngineError
from orchestrator.planner.networks import service_networks
from orchestrator.spec import Project
from runtime.errors import RuntimeFailure
from runtime.network import NetworkManager, PortBinding
from runtime.network.dns import DnsServer
from runtime.network.flows import Drained, wait_drained

log = logging.getLogger("pyorch.engine")
Exclusions = Callable[[str], set[str]]
DRAIN_MAX_S = 10.0  # the longest a stop waits for a published replica's connections to finish


class Publisher:
    def __init__(self, store: Store, network: NetworkManager, network_lock: threading.Lock,
                 loader: ProjectLoader, observe: Observe, generation: Callable[[], int],
                 drained: Drained = wait_drained) -> None:
        self.store = store
        self.network = network
        self.network_lock = network_lock
        self.loader = loader
        self.observe = observe
        self.generation = generation
        self.dns: DnsServer | None = None  # started with the engine (binds port 53 on gateways)
        self._exclusions: list[Exclusions] = []
        self._leaving: set[str] = set()  # unhealthy containers being restarted
        self._stopping: set[str] = set()  # containers the executor is stopping: out of DNS and ports
        self.drained = drained
        self._lock = threading.Lock()
        self._rebuilds = threading.Condition()  # `started`'s shared DNS rebuilds
        self._rebuilds_asked = self._rebuilds_done = 0
        self._rebuilding = False
        self._in_dns: dict[str, list[str]] = {}  # container id -> its addresses in the tables

    def exclude_with(self, source: Exclusions) -> None:
        """Another source of containers that must not receive new connections (rollouts)."""
        self._exclusions.append(source)

    # --- published ports --------------------------------------------------------------------------
    def bindings(self, project: Project, service_name: str, allocate: bool) -> list[PortBinding]:
        """The service's host bindings; ``allocate`` chooses (and stores) ports not chosen yet."""
        return service_bindings(self.store, self.network.allocate_host_port if allocate else None,
                                project.name, project.services[service_name])

    def check(self, project: Project, name: str, listening: dict[str, set[int]]) -> None:
        """Refuse the service's ports when another program (or project) holds them, before anything
        changes; ``listening`` caches the host's listening ports across a project's services."""
        bindings = self.bindings(project, name, allocate=False)
        if bindings:
            try:
                self.network.check_ports(port_key(project.name, name), bindings, listening)
            except RuntimeFailure as exc:
                raise EngineError(f"service {name!r}: {exc}") from exc

    def publish(self, project: Project, seen: Observation | None = None) -> None:
        """Point every published port of the project at its running replicas, in one nftables
        transaction, then rebuild the DNS tables. ``seen`` is used unless a write made it stale."""
        with self._lock:
            if seen is None or seen.generation != self.generation():
                seen = self.observe()
            excluded = self._leaving | self._stopping
            for source in self._exclusions:
                excluded |= source(project.name)
            running = [c for c in seen.running(project.name) if c.id not in excluded]
            attachments = self.store.all_attachments()  # one query for every replica and the DNS
            publications: dict[str, tuple[list[PortBinding], list[str]]] = {}
            for name, service in project.services.items():
                if not service.ports:
                    continue
                nets = service_networks(project, service)
                if not nets:
                    continue
                backends = []
                for c in running:
                    if c.service == name:
                        ip = attachments.get(c.id, {}).get(nets[0].runtime_name)
                        if ip:
                            backends.append(ip)
                publications[port_key(project.name, name)] = (self.bindings(project, name, True), sorted(backends))
            if publications:
                with self.network_lock:  # every service's port in one nftables transaction
                    self.network.publish_all(publications)
            self._drop_departed(project, {c.service for c in running})
            self._sync_dns(seen, attachments)

    def _drop_departed(self, project: Project, running_services: set[str]) -> None:
        """The ports of a service the revision no longer has (a profile not enabled any more, a
        service removed from the file) go once no container of it runs: an orphan keeps its port
        while it runs, as its container keeps it in Docker, and no rule outlives it."""
        prefix = port_key(project.name, "")
        departed = [key for key in self.network.published_keys() if key.startswith(prefix)
                    and key[len(prefix):] not in project.services and key[len(prefix):] not in running_services]
        if departed:
            with self.network_lock:
                self.network.unpublish_all(departed)

    @contextmanager
    def leaving(self, project: Project, cid: str) -> Iterator[None]:
        """The container takes no new connection while the block runs (it is being stopped)."""
        with self._lock:
            self._leaving.add(cid)
        try:
            self.publish(project)
            yield
        finally:
            with self._lock:
                self._leaving.discard(cid)

    def unpublish(self, project: str, services: Iterable[str]) -> None:
        """`down`: the services' ports and rules go, in one transaction, with those of services
        earlier revisions had (an orphan's)."""
        prefix = port_key(project, "")
        earlier = [key for key in self.network.published_keys() if key.startswith(prefix)]
        with self.network_lock:
            self.network.unpublish_all(sorted({*(port_key(project, s) for s in services), *earlier}))

    # --- DNS --------------------------------------------------------------------------------------
    def started(self, cid: str) -> None:
        """A container has started (the executor says): its names resolve from now on.

        Its own names and view are added to the tables (`container_dns`: its share of a full
        rebuild), and the addresses of containers in the tables that no longer run leave them, as
        a rebuild would drop them: O(changes) instead of a rebuild over every container per start
        (an `up` of N was O(N²), ~0.2 s of the engine's CPU at 200). Whatever the container's
        state does not show at once (not observed running yet, a network not served yet) falls
        back to a full rebuild."""
        with self._lock:
            if self.dns is None:
                return
            seen = self.observe()
            running = {c.id for c in seen.all if c.status == "running"}
            gone = [ip for other, ips in self._in_dns.items() if other not in running for ip in ips]
            if gone:
                self.dns.forget(gone)
                self._in_dns = {other: ips for other, ips in self._in_dns.items() if other in running}
            c = seen.find(cid)
            if c is not None and c.status == "running" and c.project:
                hidden = self._stopping | self._leaving
                for source in self._exclusions:
                    hidden |= source(c.project)
                attachments = self.store.attachments(cid)
                records, views = container_dns(c, self.loader.load, lambda _: attachments, hidden)
                ips = sorted({ip for table in records.values() for addresses in table.values() for ip in addresses})
                moved = [ip for ip in self._in_dns.get(cid, []) if ip not in ips]  # a restart's old address
                if moved:
                    self.dns.forget(moved)
                if self.dns.add(records, views):
                    self._in_dns[cid] = ips
                    return
        self._rebuild_shared()

    def _rebuild_shared(self) -> None:
        """A full rebuild that concurrent callers share, as a database's group commit shares a
        flush: each returns once a rebuild that began after it asked has finished."""
        with self._rebuilds:
            self._rebuilds_asked += 1
            ticket = self._rebuilds_asked
            while self._rebuilds_done < ticket:
                if self._rebuilding:
                    self._rebuilds.wait()
                    continue
                self._rebuilding, covers = True, self._rebuilds_asked
                self._rebuilds.release()
                try:
                    self.sync_dns()
                finally:
                    self._rebuilds.acquire()
                    self._rebuilding = False
                    self._rebuilds.notify_all()
                self._rebuilds_done = max(self._rebuilds_done, covers)

    @contextmanager
    def stopping(self, cid: str, addresses: Iterable[str], drain_s: float = 0.0) -> Iterator[None]:
        """The container's addresses leave every DNS table before the block (its stop) runs,
        without a rebuild (`down` stops many at once); rebuilds meanwhile leave it out too. With
        ``drain_s`` (a graceful stop) it also leaves its published ports first and its open
        connections get up to ``drain_s`` (at most `DRAIN_MAX_S`) to finish."""
        addresses = list(addresses)
        with self._lock:
            self._stopping.add(cid)
            if self.dns is not None:
                self.dns.forget(addresses)
        try:
            if drain_s > 0:
                self._leave_ports(cid, addresses, min(drain_s, DRAIN_MAX_S))
            yield
        finally:
            with self._lock:
                self._stopping.discard(cid)

    def _leave_ports(self, cid: str, addresses: list[str], drain_s: float) -> None:
        """Take a running replica out of its project's published ports and let its connections
        finish; nothing when it takes none (not running, no port, or its project is going down)."""
        seen = self.observe()
        c = seen.find(cid)
        if c is None or c.status != "running" or not c.project:
            return
        loaded = self.loader.load(c.project)
        service = loaded.project.services.get(c.service) if loaded is not None else None
        if loaded is None or service is None or not service.ports:
            return
        self.publish(loaded.project, seen)  # without it: it is among the containers being stopped
        ports = tcp_targets(service)
        for ip in addresses:
            left = self.drained(ip, drain_s, ports)
            if left:
                log.info("%s: %d connection(s) still open after %.1fs of draining", c.name, left, drain_s)

    def sync_dns(self, seen: Observation | None = None) -> None:
        with self._lock:
            fresh = seen if seen is not None and seen.generation == self.generation() else self.observe()
            self._sync_dns(fresh, self.store.all_attachments())

    def _sync_dns(self, seen: Observation, attachments: dict[str, dict[str, str]]) -> None:
        """Rebuild every network's name table from the running containers (all projects)."""
        if self.dns is None:
            return
        projects: dict[str, Loaded | None] = {}

        def project_of(name: str) -> Loaded | None:  # each project read once, not once per replica
            if name not in projects:
                projects[name] = self.loader.load(name)
            return projects[name]

        def attachments_of(cid: str) -> dict[str, str]:
            return attachments.get(cid, {})

        hidden = self._stopping | self._leaving
        for project in {c.project for c in seen.all if c.project}:
            for source in self._exclusions:
                hidden |= source(project)
        tables = dns_tables(seen.all, project_of, attachments_of, hidden)
        served = {ip for table in tables.values() for ips in table.values() for ip in ips}
        self._in_dns = {cid: ips for cid, addresses in attachments.items()
                        if (ips := sorted(ip for ip in addresses.values() if ip in served))}
        networks = {n.name: n for n in self.network.list_networks()}
        for name in set(self.dns.networks()) - set(networks):
            self.dns.remove_network(name)
        for name, info in networks.items():
            try:
                self.dns.set_network(name, info.gateway, forward=not info.internal)
            except OSError as exc:
                log.warning("DNS on %s (%s): %s", name, info.gateway, exc)
                continue
            self.dns.set_records(name, tables.get(name, {}))
        self.dns.set_views(dns_views(seen.all, project_of, attachments_of))
