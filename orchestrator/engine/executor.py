"""The engine's one door to the data plane: every change to a container or a network.

A plan's actions, and the verbs' stops, kills, pauses and removals, are a few runtime and network
calls each, recorded as events. Actions of one wave run concurrently on a bounded thread pool;
runtime calls block on the kernel and the shim, not on the GIL, so threads are the simple right
tool here. Every write reports the containers it changed (`changed`: the engine's observed
state reads them again) and then bumps `generation`, so a step holding an older observation
knows to ask again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Protocol

from orchestrator.engine import log_archive
from orchestrator.engine.extra_hosts import with_host_gateway
from orchestrator.engine.labels import LABEL_NETWORK_PARENT, Labelled
from orchestrator.engine.netplan import network_specs
from orchestrator.engine.network_mode import runtime_network_mode
from orchestrator.engine.store import Refusal, Store
from orchestrator.engine.translate import run_config
from orchestrator.errors import DiskFull
from orchestrator.planner.model import (
    Action,
    CreateContainer,
    Plan,
    RemoveContainer,
    RestartContainer,
    StartContainer,
    StopContainer,
)
from orchestrator.planner.networks import service_networks
from orchestrator.spec import Project, Service
from runtime import faults
from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.diskspace import full_message, is_no_space
from runtime.errors import ConfigurationError, ContainerNotFound, ContainerStateError, RuntimeFailure
from runtime.network import NetworkInfo, NetworkManager

log = logging.getLogger("pyorch.executor")
MAX_PARALLEL = 8
NOT_RETRIED = "not retried until the next `up`"


@dataclass(frozen=True)
class Outcome:
    """What came of one action: None when it went well, else its error message."""

    action: Action
    error: str | None


class Announcements(Protocol):
    """Who hears of containers starting and stopping (the publisher, for DNS)."""

    def started(self, cid: str) -> None: ...

    def stopping(self, cid: str, addresses: Iterable[str], drain_s: float = 0.0) -> AbstractContextManager[None]: ...


class Executor:
    def __init__(self, runtime: ContainerRuntime, network: NetworkManager, store: Store,
                 changed: Callable[[str], None] = lambda cid: None) -> None:
        self.runtime = runtime
        self.changed = changed
        self.network = network
        self.store = store
        self.network_lock = threading.Lock()  # the network manager's writes, one at a time
        self.pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL, thread_name_prefix="pyorch-exec")
        self._generation = 0
        self._generation_guard = threading.Lock()
        self._announce: Announcements | None = None

    def announce_to(self, listener: Announcements) -> None:
        """Tell ``listener`` when a container has started and before one is stopped."""
        self._announce = listener

    def _started(self, cid: str) -> None:
        if self._announce is not None:
            self._announce.started(cid)

    def _stopping(self, cid: str, grace: float | None = 0.0) -> AbstractContextManager[None]:
        """Announce a stop; ``grace`` (None: the container's own stop grace period) bounds how long
        a published replica's connections may drain before it (0: a kill, no drain)."""
        if self._announce is None:
            return nullcontext()
        if grace is None:
            try:
                grace = self.runtime.inspect(cid).record.stop_grace_period
            except RuntimeFailure:
                grace = 0.0
        return self._announce.stopping(cid, self.store.attachments(cid).values(), grace)

    @property
    def generation(self) -> int:
        """How many writes have completed: an observation taken at an older count may be stale."""
        return self._generation

    @contextmanager
    def _writing(self, *cids: str) -> Iterator[list[str]]:
        """A write to the containers ``cids`` (and to those the block appends, a create's)."""
        touched = list(cids)
        try:
            yield touched
        finally:
            for cid in touched:
                self.changed(cid)
            with self._generation_guard:
                self._generation += 1

    def run(self, project: Project, revision: int, plan: Plan,
            before_wave: Callable[[list[Action]], str | None] | None = None,
            stop_timeout: float | None = None) -> list[str]:
        """Run the plan wave by wave; returns error messages (empty when all went well).

        ``before_wave`` may hold a wave back (depends_on conditions): it returns an error to stop.
        """
        errors: list[str] = []
        for wave in plan.waves:
            if before_wave is not None:
                error = before_wave(wave)
                if error:
                    errors.append(error)
                    break
            errors += [o.error for o in self.run_wave(project, revision, wave, stop_timeout) if o.error]
            if errors:
                break
        return errors

    def run_wave(self, project: Project, revision: int, wave: list[Action],
                 stop_timeout: float | None = None) -> list[Outcome]:
        """Run one wave's actions concurrently; the outcome of each, in the wave's order."""
        futures = [self.pool.submit(self._run_action, project, revision, a, stop_timeout) for a in wave]
        return [Outcome(a, f.result()) for a, f in zip(wave, futures, strict=True)]

    def _run_action(self, project: Project, revision: int, action: Action,
                    stop_timeout: float | None = None) -> str | None:
        try:
            if isinstance(action, CreateContainer):
                if action.replaces:
                    self.remove_container(project.name, action.replaces, action.service, stop_timeout)
                self.create_container(project, revision, action.service, action.number, action.name)
            elif isinstance(action, RemoveContainer):
                self.remove_container(project.name, action.id, action.service, stop_timeout)
            elif isinstance(action, StartContainer):
                self.start(action.id)
            elif isinstance(action, RestartContainer):
                self.restart_container(project, action)
            elif isinstance(action, StopContainer):
                # stopped by hand as far as restart policies go, until the plan starts it again
                self.store.set_container_flags(action.id, project.name, True, 0.0)
                self.stop(action.id, stop_timeout)
                self.store.record_event(project.name, "container-stop", action.name, id=action.id,
                                        reason=action.reason)
                return None
            if not isinstance(action, RemoveContainer):
                self.store.forget_refusal(project.name, action.name)
            return None
        except ConfigurationError as exc:
            # A retry would fail the same way: the loop leaves this container alone until a new
            # revision is stored (the next `up`), and `ps` says why (refusals in store.py).
            message = f"{type(action).__name__} {action.name}: {exc} ({NOT_RETRIED})"
            number = action.number if isinstance(action, CreateContainer) else 0
            self.store.refuse(Refusal(project.name, action.name, action.service, number, revision, str(exc),
                                      time.time()))
            self.store.record_event(project.name, "error", action.name, message=message, retry=False)
            return message
        except Exception as exc:
            if is_no_space(exc):  # a person frees space: the message names the filesystem
                exc = DiskFull(full_message(self.runtime.layout.state_root))
            message = f"{type(action).__name__} {getattr(action, 'name', '')}: {exc}"
            if not isinstance(exc, RuntimeFailure | ValueError | DiskFull):
                log.exception("action failed")
            self.store.record_event(project.name, "error", getattr(action, "name", ""), message=message)
            return message

    # --- the actions --------------------------------------------------------------------------------
    def ensure_networks(self, project: Project) -> None:
        """The project's own networks exist (an idempotent check when they do)."""
        for spec in network_specs(project):
            with self._writing(), self.network_lock:
                self.network.ensure_network(spec)

    def start(self, cid: str) -> None:
        with self._writing(cid):
            self.runtime.start(cid)
        self._started(cid)

    def stop(self, cid: str, timeout: float | None = None) -> None:
        """A graceful stop: out of DNS and its published ports first, its connections drained
        (bounded by ``timeout``, else its stop grace period), then its stop signal."""
        with self._writing(cid), self._stopping(cid, timeout):
            self.runtime.stop(cid, timeout)

    def kill(self, cid: str, sig: int) -> None:
        with self._writing(cid), self._stopping(cid):
            self.runtime.kill(cid, sig)

    def pause(self, cid: str, pause: bool) -> None:
        """Freeze (``pause``) or thaw the container."""
        with self._writing(cid):
            if pause:
                self.runtime.pause(cid)
            else:
                self.runtime.unpause(cid)

    def create_container(self, project: Project, revision: int, service_name: str, number: int, name: str,
                         adjust: Callable[[RunConfig], None] | None = None,
                         before_start: Callable[[str], None] | None = None) -> str:
        """Create, attach and start; ``adjust`` changes the config first and ``before_start(id)``
        runs before the start (one-off `run` containers: a client attaches to its stdio there)."""
        service = project.services[service_name]
        config = run_config(project, service, name, number, revision)
        if adjust is not None:
            adjust(config)
        networks = self._networks()  # read once for the resolver and the attachments
        self._use_embedded_dns(project, service, config, networks)
        created: list[str] = []

        def attach(cid: str, pid: int) -> None:  # runs while the container's root is being built
            created.append(cid)
            self._attach(project, service, cid, pid, name, networks)

        with self._writing() as touched:
            try:  # started by the create itself unless something must run between (one write less)
                info = self.runtime.create(config, on_pid=attach, start=before_start is None)
            except BaseException:
                for cid in created:  # the runtime removed the container; its addresses go too
                    self._detach(cid)
                raise
            touched.append(info.id)
            if before_start is not None:
                try:
                    before_start(info.id)
                    self.runtime.start(info.id)
                except BaseException:
                    self._detach(info.id)
                    self.runtime.remove(info.id, force=True)
                    raise
        self.store.set_container_flags(info.id, project.name, False, 0.0)
        self._started(info.id)  # its names resolve from now on
        self.store.record_event(project.name, "container-start", name, id=info.id, service=service_name)
        return info.id

    def restart_container(self, project: Project, action: RestartContainer) -> None:
        service = project.services[action.service]
        with self._writing(action.id):
            self._detach(action.id)
            info = self.runtime.respawn(action.id, restart_count=action.restart_count,
                                        on_pid=lambda cid, pid: self._attach(project, service, cid, pid, action.name,
                                                                             self._networks()))
            self.runtime.start(info.id)
        self._started(info.id)
        self.store.set_container_flags(action.id, project.name, False, action.delay)
        if action.manual:  # a start asked for is a fresh start, as in Docker
            self.store.forget_restart_history(action.id)
            self.store.record_event(project.name, "container-start", action.name, id=action.id,
                                    service=action.service)
        else:
            self.store.record_restart(action.id, project.name, time.time())
            self.store.record_event(project.name, "container-restart", action.name, id=action.id,
                                    restart_count=action.restart_count, delay=action.delay,
                                    not_before=action.not_before)

    def remove_container(self, project: str, cid: str, service: str, timeout: float | None = None,
                         collecting: bool = False) -> None:
        """Stop and remove a container, the intent first (`ContainerRuntime.removing`) and its
        record last: cut short anywhere, it is DEAD and the next pass finishes the removal.
        ``collecting``: that next pass (an event says so; another thread at it already: refused)."""
        info = self.runtime.inspect(cid)
        grace = info.record.stop_grace_period if timeout is None else timeout  # (read above: not again)
        with self._writing(cid), self.runtime.removing(cid, exclusive=collecting):
            with self._stopping(cid, grace):  # out of DNS and the ports before it stops answering
                stopped = self.runtime.stop(cid, timeout)  # (its state once stopped: not read again)
            log_archive.keep(self.runtime, stopped)  # `logs` shows it until `down`
            attachments = self.attachments_of(cid)
            # No process is left in the container's netns: the kernel deletes its veths with it,
            # batched with other namespaces that die meanwhile, where a `link del` each would wait
            # for an RCU grace period of its own under the RTNL lock (20-30 ms). Waited for below;
            # a veth whose netns another holder keeps alive is deleted after a grace period.
            with self.network_lock:
                self.network.release_addresses(attachments)
            self._forget_records(cid)
            self.runtime.remove(cid, force=True)
            self.network.await_veths_gone(attachments)
        self._removed(project, cid, info.name, service, collecting)

    def discard_stopped(self, project: str, cid: str, name: str, service: str) -> None:
        """`down`'s removal of a stopped container: cgroups, bundle and records; its addresses and
        veths go with its networks (`remove_networks`)."""
        with self._writing(cid), self.runtime.removing(cid):
            self._forget_records(cid)
            self.runtime.remove(cid, force=True)
        self._removed(project, cid, name, service)

    def collect(self, dead: list[Labelled]) -> list[str]:
        """Finish the creates and removals that a process which died (or a step that failed) left
        half done: each such container is removed whole; returns error messages."""
        errors = []
        for c in dead:
            project = c.project or c.oneoff_project
            try:
                self.remove_container(project, c.id, c.service, timeout=0, collecting=True)
            except ContainerNotFound:
                pass  # removed meanwhile
            except ContainerStateError:
                pass  # another thread is at it
            except RuntimeFailure as exc:
                errors.append(f"{c.name}: {exc}")
                self.store.record_event(project, "error", c.name, message=f"collect {c.name}: {exc}")
        return errors

    def collect_leftovers(self) -> None:
        """At engine start, before the first pass: what a process that died left outside any
        container's record: bundles half made or half deleted, addresses of containers that are
        gone (with their veths), and the store's rows about them."""
        for name in self.runtime.collect_debris():
            log.info("removed the leftover bundle %s", name)
        known = {info.id for info in self.runtime.containers()}
        with self.network_lock:
            freed = self.network.release_unknown(lambda cid: cid in known)
        for cid, network in freed:
            log.info("released the address of %s on %s (the container is gone)", cid[:12], network)
        self.store.forget_containers_except(known)

    def release_orphaned_addresses(self) -> None:
        """Free the addresses of containers that no longer exist, while this engine runs: a create
        that failed releases its addresses, but that release can fail too (a full disk). Safe
        beside creates under way: a container's record is written before it gets an address,
        so a holder read first whose record is gone after is gone for good."""
        holders = self.network.holders()
        gone = {cid for cid in holders if not self.runtime.exists(cid)}
        if not gone:
            return
        with self.network_lock:
            freed = self.network.release_unknown(lambda cid: cid not in gone)
        for cid, network in freed:
            log.info("released the address of %s on %s (the container is gone)", cid[:12], network)

    def attachments_of(self, *cids: str) -> list[tuple[str, str]]:
        """(cid, network) for every network the containers have an address on: the store's rows and
        the allocations themselves (a connect cut short may have allocated before its row), the
        latter read once for all of them (`down` asks about every container of a project)."""
        held = self.network.holdings()
        return [(cid, network) for cid in cids
                for network in sorted(set(self.store.attachments(cid)) | set(held.get(cid, ())))]

    def remove_networks(self, attachments: list[tuple[str, str]], doomed: list[str]) -> None:
        """Release the stopped containers' addresses and remove ``doomed`` networks, in one state
        write and one transaction; the veths are gone with their namespaces before this returns."""
        with self._writing():
            with self.network_lock:
                self.network.release_addresses(attachments)
                self.network.remove_networks(doomed)
            self.network.await_veths_gone(attachments)

    def purge_logs(self, project: str) -> None:
        """`down`: the kept logs of the project's removed containers go with it (log_archive.py)."""
        log_archive.purge(self.runtime, project)

    def _forget_records(self, cid: str) -> None:
        """The store's rows about a container being removed (before its bundle: the record goes last)."""
        faults.point("store.forget")
        self.store.forget_container(cid)
        self.store.forget_restart_history(cid)

    def _removed(self, project: str, cid: str, name: str, service: str, collected: bool = False) -> None:
        detail = {"collected": True} if collected else {}
        self.store.record_event(project, "container-remove", name, id=cid, service=service, **detail)

    # --- networking -----------------------------------------------------------------------------------
    def _networks(self) -> dict[str, NetworkInfo]:
        """The instance's networks by name: one read of the network state per create."""
        return {n.name: n for n in self.network.list_networks()}

    def _use_embedded_dns(self, project: Project, service: Service, config: RunConfig,
                          networks: dict[str, NetworkInfo]) -> None:
        """Point resolv.conf at the first network's gateway, where the engine's DNS server answers.

        Like Docker's 127.0.0.11: `ndots:0` so single names are asked as they are. A service with
        its own `dns:` keeps those servers (and so has no service discovery). The network mode is
        resolved here too: `service:NAME` needs the id of a container running now, and so is
        `extra_hosts`' `host-gateway`.
        """
        config.network_mode = runtime_network_mode(project, service, self.runtime.containers)
        if config.network_mode.startswith("container:"):  # so the planner knows when that one is gone
            config.labels[LABEL_NETWORK_PARENT] = config.network_mode.removeprefix("container:")
        nets = service_networks(project, service)
        first = networks.get(nets[0].runtime_name) if nets else None
        gateway = first.gateway if first is not None else None
        host = "127.0.0.1" if config.network_mode == "host" else gateway
        config.extra_hosts = with_host_gateway(config.extra_hosts, host)
        if service.dns or not nets:
            return
        if gateway:
            config.dns = [gateway]
            config.dns_options = ["ndots:0", *config.dns_options]

    def _attach(self, project: Project, service: Service, cid: str, pid: int, name: str,
                networks: dict[str, NetworkInfo]) -> None:
        entries: list[tuple[str, str]] = []
        nets = service_networks(project, service)
        # The default route goes through the first network that is not internal (as Docker picks).
        internal = {n.name for n in networks.values() if n.internal}
        gateway_net = next((n.runtime_name for n in nets if n.runtime_name not in internal), None)
        for index, net in enumerate(nets):
            # Not under `network_lock`: the manager chooses the address under its own lock and
            # makes the links outside it, so the connects of a burst of creates run side by side.
            attachment = self.network.connect(
                cid, pid, net.runtime_name, ipv4_address=net.ipv4_address,
                aliases=(name, service.name, *net.aliases), ifname=f"eth{index}",
                default_route=net.runtime_name == gateway_net,
            )
            self.store.set_attachment(cid, net.runtime_name, attachment.ip)
            if index == 0:
                extra = with_host_gateway(service.extra_hosts or {}, attachment.gateway)
                entries += [(ip, host) for host, ip in extra.items()]
                host = service.hostname or cid[:12]
                entries.append((attachment.ip, f"{host} {name}" if host != name else name))
        if nets:
            self.runtime.set_hosts(cid, entries)

    def _detach(self, cid: str) -> None:
        for network in self.store.attachments(cid):
            with self.network_lock:
                try:
                    self.network.disconnect(cid, network)
                except RuntimeFailure as exc:
                    log.warning("disconnect %s from %s: %s", cid[:12], network, exc)
        self.store.forget_container(cid)
