"""The runtime's front door: create, start, stop, remove and observe containers.

Knows images and cgroups, not Compose. Networking is attached by the caller between `create`
(namespaces exist, the command has not run) and `start`, the way OCI runtimes split the two.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

from runtime import faults
from runtime.cgroups import Cgroup, CgroupError, open_cgroups
from runtime.cgroups import Resources as CgroupResources
from runtime.container import copy
from runtime.container.file_mounts import check_files, stage_files
from runtime.container.logfile import LOG_NAME, log_files
from runtime.container.mounts import image_volume_mounts, resolve_mounts
from runtime.container.netmode import default_hostname, host_files, joined_bundle, netns_path
from runtime.container.runconfig import RunConfig, command_line, merge_env
from runtime.container.shim_client import ShimClient, ShimError
from runtime.container.spec import (
    CAPABILITY_NUMBERS,
    DEFAULT_CAPABILITIES,
    MASKED_PATHS,
    READONLY_PATHS,
    BindMount,
    ContainerSpec,
    TmpfsMount,
)
from runtime.container.state import (
    CREATING,
    DEAD,
    REMOVING,
    ContainerInfo,
    ContainerRecord,
    intent_status,
    is_alive,
    load_exit,
    load_record,
    process_start_time,
    save_record,
    this_process,
    write_private,
)
from runtime.errors import ConfigurationError, ContainerNotFound, ContainerStateError, RuntimeFailure
from runtime.fdwait import readable
from runtime.features import host_features
from runtime.image import ImageStore
from runtime.image.store import Image
from runtime.layout import HostLayout
from runtime.linux.signals import signal_number
from runtime.linux.spread import spread_subdirectories
from runtime.security.device_requests import parse_cgroup_rule
from runtime.security.devices import DeviceRule
from runtime.security.policy import SecurityPlan, plan_security, restrict_devices
from runtime.volume import VolumeStore

INIT_BINARY_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/catatonit")


def find_init_binary() -> str:
    return next((p for p in INIT_BINARY_CANDIDATES if os.access(p, os.X_OK)), "")


@functools.cache
def host_capabilities() -> frozenset[str]:
    """The capabilities this host lets us hand out: our bounding set (this host lacks SYS_RESOURCE).
    Read once per process (a bounding set only shrinks, and nothing here drops from it): the
    kernel renders all of /proc/self/status for it, and every create asked."""
    try:
        with open("/proc/self/status") as f:
            bounding = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    except (OSError, StopIteration, ValueError):
        return frozenset(CAPABILITY_NUMBERS)
    return frozenset(name for name, bit in CAPABILITY_NUMBERS.items() if bounding & (1 << bit))


def capabilities_for(config: RunConfig) -> list[str]:
    available = host_capabilities()
    if config.privileged:
        return sorted(available)
    caps = set(DEFAULT_CAPABILITIES)
    adds = {c.upper().removeprefix("CAP_") for c in config.cap_add}
    drops = {c.upper().removeprefix("CAP_") for c in config.cap_drop}
    for name in (adds | drops) - {"ALL"}:
        if name not in CAPABILITY_NUMBERS:
            raise ConfigurationError(f"unknown capability {name!r}")
    if "ALL" in drops:
        caps = set()
    caps -= drops
    if "ALL" in adds:
        caps |= available
    missing = sorted(adds - available - {"ALL"})
    if missing:
        raise ConfigurationError(f"cap_add: {', '.join(missing)} not available on this host (not in the engine's "
                             "bounding set)")
    caps |= adds - {"ALL"}
    return sorted(caps & available)


_ANY_ID = "0" * 64  # a well-formed container id, for checks that do not depend on which
TRASH_PREFIX = ".removed-"  # a bundle being deleted (renamed first, out of the listing)


class ContainerRuntime:
    def __init__(self, layout: HostLayout, images: ImageStore | None = None) -> None:
        self.layout = layout
        self.images = images or ImageStore(layout.images_dir)
        self.cgroups = open_cgroups(layout)
        self.features = host_features()  # probed once per process, at start-up
        self.shim = ShimClient(layout.run_root, on_start=self.adopt_orphans)
        self.volumes = VolumeStore(layout.volumes_dir)
        self._spare_cgroups = _spare_cgroups_config(self.cgroups.plan(_ANY_ID, CgroupResources()))
        self._me = this_process()  # who the intents this runtime writes are by
        self._steps: dict[str, int] = {}  # creates and removals under way in this process
        self._steps_guard = threading.Lock()
        layout.make_private_dirs()
        spread_subdirectories(layout.containers_dir)  # each bundle in a block group of its own choosing

    # --- lifecycle -------------------------------------------------------------------------------
    def create(self, config: RunConfig, on_pid: Callable[[str, int], object] | None = None,
               start: bool = False) -> ContainerInfo:
        """Set the container up to just before its command. ``on_pid(id, pid)`` runs as soon as the
        container's PID 1 and namespaces exist, while the root filesystem is still being built
        (networks are attached there); if it raises, the container is removed and the error stands.
        ``start``: then let the command run, as `start` would, with one record write less (a
        process that dies before that write leaves the create's intent: the container is DEAD
        and collected, as when it dies before a create's last write)."""
        image = self.images.resolve(config.image_id or config.image)
        capabilities = capabilities_for(config)
        security = plan_security(
            seccomp=config.seccomp, privileged=config.privileged, capabilities=capabilities,
            sysctls=config.sysctls, ulimits=config.ulimits, cache_dir=self.layout.run_root / "seccomp",
            device_mappings=[(d.source, d.target, d.permissions) for d in config.devices],
            device_cgroup_rules=config.device_cgroup_rules,
        )
        netns = netns_path(config.network_mode, self.layout.containers_dir)  # refuses a stopped target
        args = command_line(config.entrypoint, config.command, image.config.entrypoint, image.config.cmd)
        mounts = [*config.mounts, *image_volume_mounts(image.config.volumes, config.mounts, config.image_volumes)]
        user_binds, tmpfs = resolve_mounts(mounts, self.layout.volumes_dir)
        check_files(config.files)
        resources = _cgroup_resources(config)
        self.cgroups.plan(_ANY_ID, resources)  # refused here, before anything is made
        cid = self._next_id()
        cgroup = self.cgroups.plan(cid, resources)
        bundle = self.layout.containers_dir / cid
        with self._step(cid):
            try:
                record, spec = self._write_bundle(config, image, cid, bundle, security, capabilities, resources,
                                                  cgroup, netns, args, user_binds, tmpfs)
                self._spawn(bundle, record, spec, on_pid,
                            lambda: self._make_cgroup(cid, resources, config.privileged, security.device_rules),
                            start)
            except BaseException:
                self._forget_quietly(cid)  # on_pid may have failed after the container was set up
                self._discard(cgroup, bundle)
                raise
        return self._observe(bundle, record)

    @contextmanager
    def _step(self, cid: str, exclusive: bool = False) -> Iterator[None]:
        """A create or removal of ``cid`` under way in this process (its record's intent is by us):
        while it runs the container is CREATING or REMOVING; an intent of ours with no step under
        way (one that failed half way) makes it DEAD, so the engine collects it without a restart.
        ``exclusive``: refuse when another thread already works on it."""
        with self._steps_guard:
            if exclusive and cid in self._steps:
                raise ContainerStateError(f"container {cid[:12]} is being removed already")
            self._steps[cid] = self._steps.get(cid, 0) + 1
        try:
            yield
        finally:
            with self._steps_guard:
                self._steps[cid] -= 1
                if not self._steps[cid]:
                    del self._steps[cid]

    def removing(self, cid: str, exclusive: bool = False) -> AbstractContextManager[None]:
        """Begin the container's removal (its intent written first, `mark_removing`), for callers
        whose removal is more than `remove` (stop, keep the logs, release addresses, then
        `remove`): a crash anywhere in the block leaves it DEAD for the next pass to finish."""
        step = self._step(cid, exclusive)

        @contextmanager
        def block() -> Iterator[None]:
            with step:
                self.mark_removing(cid)
                yield

        return block()

    def _write_bundle(self, config: RunConfig, image: Image, cid: str, bundle: Path, security: SecurityPlan,
                      capabilities: list[str], resources: CgroupResources, cgroup: Cgroup, netns: str, args: list[str],
                      user_binds: list[BindMount], tmpfs: list[TmpfsMount]) -> tuple[ContainerRecord, ContainerSpec]:
        """The container's directory: its record first (with the create's intent: whatever this
        process leaves half made if it dies is found and collected by that record), then the
        writable layer, /etc files and spec."""
        record = ContainerRecord(
            id=cid,
            name=config.name,
            image=config.image,
            image_id=image.id,
            created_at=time.time(),
            labels=dict(config.labels),
            stop_signal=config.stop_signal or image.config.stop_signal or "SIGTERM",
            stop_grace_period=config.stop_grace_period,
            intent=CREATING,
            intent_by=self._me,
        )
        faults.point("create.bundle")
        bundle.mkdir(mode=0o700)  # the upper directory holds whatever the container writes
        save_record(bundle, record)
        for sub in ("upper", "work", "rootfs"):
            (bundle / sub).mkdir()
        hostname = config.hostname or default_hostname(config.network_mode, cid, self.layout.containers_dir)
        env = merge_env(image.config.env, {"HOSTNAME": hostname, **config.environment})
        binds = self._write_network_files(bundle, hostname, config) + user_binds
        if resources != CgroupResources():  # none: no file (one inode less per container; see below)
            (bundle / "resources.json").write_text(json.dumps(asdict(resources)))
        use_init = config.init if config.init is not None else True
        spec = ContainerSpec(
            id=cid,
            name=config.name,
            bundle_dir=str(bundle),
            lower_dirs=overlay_lower_dirs(image.layer_dirs),
            args=args,
            env=env,
            cwd=config.working_dir or image.config.working_dir or "/",
            user=config.user if config.user is not None else image.config.user,
            hostname=hostname,
            domainname=config.domainname,
            capabilities=capabilities,
            no_new_privileges=config.no_new_privileges,
            read_only_rootfs=config.read_only,
            cgroup_procs_files=list(cgroup.procs_files),  # joined by `exec`; a create's PID 1 joins in _spawn
            binds=binds,
            tmpfs=tmpfs,
            init_path=find_init_binary() if use_init else "",
            shm_size=config.shm_size or 64 * 1024 * 1024,
            oom_score_adj=config.oom_score_adj,
            log_path=str(bundle / LOG_NAME),
            privileged=config.privileged,
            seccomp_path=security.seccomp_path,
            sysctls=security.sysctls,
            rlimits=security.rlimits,
            group_add=list(config.group_add),
            masked_paths=[] if config.privileged else list(MASKED_PATHS),
            readonly_paths=[] if config.privileged else list(READONLY_PATHS),
            device_nodes=security.device_nodes,
            device_rules=[rule.v1_line() for rule in security.device_rules],
            network_mode=config.network_mode,
            netns_path=netns,
            files=stage_files(config.files, bundle),
            log=config.log,
            tty=config.tty,
            stdin_open=config.stdin_open,
            console_size=list(config.console_size) if config.console_size else None,
        )
        write_private(bundle / "spec.json", spec.to_json())
        return record, spec

    def _discard(self, cgroup: Cgroup, bundle: Path) -> None:
        """Undo a failed create; the setup error stays the one reported (a process of the failed
        setup may still be exiting, so the cgroup is emptied before it is removed)."""
        try:
            cgroup.kill()
            cgroup.remove()
            self.cgroups_cleanup()
        except RuntimeFailure:
            pass  # the next remove or gc collects what is left
        self._delete_bundle(bundle)

    def respawn(self, cid: str, restart_count: int,
                on_pid: Callable[[str, int], object] | None = None) -> ContainerInfo:
        """Run an exited container again: same id, same writable layer, new namespaces (Docker's restart)."""
        bundle, record = self._load(cid)
        # Its exit record settles it: an adopted container's process stays a zombie until the
        # host's init reaps it (lazily), and such a zombie has not been running since it exited.
        if load_exit(bundle, record.pid) is None and is_alive(record):
            raise ContainerStateError(f"container {record.name} is still running")
        self._forget_quietly(cid)
        # exit.json stays: it is about the run before (its pid), so a respawn that fails leaves the
        # container exited as it was, and the shim replaces it when the new run ends.
        spec = ContainerSpec.from_dict(json.loads((bundle / "spec.json").read_text()))
        resources = _cgroup_resources_from_spec_file(bundle)
        spec.cgroup_procs_files = list(self.cgroups.plan(cid, resources).procs_files)
        extra = tuple(parse_cgroup_rule(line) for line in spec.device_rules)
        spec.netns_path = netns_path(spec.network_mode, self.layout.containers_dir)
        record.restart_count = restart_count
        record.started_at = 0.0
        kept = self.cgroups.open(cid)  # a restart keeps the cgroup, and its OOM-kill count
        record.oom_kills_before = kept.oom_kill_count() if kept is not None else 0
        try:
            self._spawn(bundle, record, spec, on_pid,
                        lambda: self._make_cgroup(cid, resources, spec.privileged, extra))
        except BaseException:
            self._forget_quietly(cid)
            raise
        return self.inspect(cid)

    def adopt_orphans(self) -> list[str]:
        """Hand a shim just started every container whose process a shim before it forked: it
        watches those still running (their exits and, as far as the kernel lets, their output:
        shim_adopt.py) and records the exits nobody saw as unknown. Idempotent. Returns the ids."""
        try:
            known = self.shim.known()
        except RuntimeFailure:
            return []
        handed = []
        for bundle in sorted(self.layout.containers_dir.iterdir()) if self.layout.containers_dir.exists() else []:
            record = load_record(bundle)
            if record is None or not record.pid or record.id in known or load_exit(bundle, record.pid) is not None:
                continue
            if self._adopt(bundle, record):
                handed.append(record.id)
        return handed

    def _adopt(self, bundle: Path, record: ContainerRecord) -> bool:
        try:
            spec = json.loads((bundle / "spec.json").read_text())
            self.shim.adopt(spec, record.pid, record.pid_start_time, bool(record.started_at))
        except (OSError, ValueError, RuntimeFailure):
            return False  # removed meanwhile, or the shim is gone again: the next look settles it
        return True

    def _forget_quietly(self, cid: str) -> None:
        """Have the shim kill and drop a container it may hold (nothing happens if it holds none)."""
        try:
            self.shim.forget(cid)
        except RuntimeFailure:
            pass

    def _make_cgroup(self, cid: str, resources: CgroupResources, privileged: bool,
                     device_rules: tuple[DeviceRule, ...]) -> Cgroup:
        cgroup = self.cgroups.create(cid, resources)
        restrict_devices(cgroup, privileged, self.features.devices, device_rules)
        return cgroup

    def _next_id(self) -> str:
        """A fresh container id: the one whose cgroups already hold the shim's warm PID 1 if it
        has one ready (spare_cgroup.py: the start is spared an RCU grace period), else random."""
        try:
            reserved = self.shim.reserve()
        except RuntimeFailure:
            reserved = None
        return reserved or os.urandom(32).hex()

    def _spawn(self, bundle: Path, record: ContainerRecord, spec: ContainerSpec,
               on_pid: Callable[[str, int], object] | None, make_cgroup: Callable[[], Cgroup],
               start: bool = False) -> None:
        """Have the shim fork the container while its cgroups are made here; PID 1 joins them
        before stage 2 leaves the host's cgroup namespace, i.e. before anything of the image runs.
        ``start``: the shim lets the command run before the record is written (see `create`)."""
        made: list[Cgroup] = []
        try:
            pid = self.shim.create(asdict(spec), None if on_pid is None else partial(on_pid, spec.id),
                                   meanwhile=lambda: made.append(make_cgroup()),
                                   attach=lambda pid: _attach_unless_gone(made[0], pid),
                                   spare_cgroups=self._spare_cgroups)
        except ShimError as exc:
            raise _failure(exc)(f"cannot create container {record.name}: {exc}") from exc
        record.pid = pid
        record.pid_start_time = process_start_time(record.pid)
        if start:
            faults.point("start.shim")
            try:
                self.shim.start(spec.id)
            except RuntimeFailure as exc:
                raise _failure(exc)(f"cannot start container {record.name}: {exc}") from exc
            record.started_at = time.time()
        record.intent, record.intent_by = "", []  # set up: a create ends here
        faults.point("create.record")
        save_record(bundle, record)

    def start(self, cid: str) -> ContainerInfo:
        """Let a created container run its command. Idempotent: a container that already runs (a
        start whose caller died before it could record it) is recorded as started now."""
        bundle, record = self._load(cid)
        faults.point("start.shim")
        try:
            self.shim.start(cid)
        except RuntimeFailure as exc:
            raise _failure(exc)(f"cannot start container {record.name}: {exc}") from exc
        record.started_at = time.time()
        faults.point("start.record")
        save_record(bundle, record)
        return self._observe(bundle, record)

    def kill(self, cid: str, sig: int = signal.SIGKILL) -> None:
        bundle, record = self._load(cid)
        if is_alive(record):
            try:
                os.kill(record.pid, sig)
            except ProcessLookupError:
                pass
            if sig == signal.SIGKILL and (bundle / "paused").exists():
                self._thaw(bundle, cid)  # like Docker: a killed container does not stay frozen

    def pause(self, cid: str) -> ContainerInfo:
        """Freeze every process of the container (cgroup freezer); `docker pause`."""
        bundle, record = self._load(cid)
        if not is_alive(record) or not record.started_at:
            raise ContainerStateError(f"container {record.name} is not running")
        cgroup = self.cgroups.open(cid)
        if cgroup is None:
            raise ContainerStateError(f"container {record.name} has no cgroup to freeze")
        cgroup.freeze()
        (bundle / "paused").touch()
        return self.inspect(cid)

    def unpause(self, cid: str) -> ContainerInfo:
        bundle, record = self._load(cid)
        if not (bundle / "paused").exists():
            raise ContainerStateError(f"container {record.name} is not paused")
        self._thaw(bundle, cid)
        return self.inspect(cid)

    def _thaw(self, bundle: Path, cid: str) -> None:
        cgroup = self.cgroups.open(cid)
        if cgroup is not None:
            cgroup.thaw()
        (bundle / "paused").unlink(missing_ok=True)

    def stop(self, cid: str, timeout: float | None = None) -> ContainerInfo:
        """Stop signal, then SIGKILL to the whole cgroup after the grace period."""
        bundle, record = self._load(cid)
        if not record.pid:
            return self.inspect(cid)  # a create cut short before its PID 1: no process to stop
        if (bundle / "paused").exists():
            self._thaw(bundle, cid)  # a frozen process cannot act on its stop signal
        grace = record.stop_grace_period if timeout is None else timeout
        if is_alive(record):
            sig = signal_number(record.stop_signal)
            self.kill(cid, sig)
            if not _wait_exit(record, grace):
                cgroup = self.cgroups.open(cid)
                if cgroup is not None:
                    cgroup.kill()
                self.kill(cid, signal.SIGKILL)
                _wait_exit(record, 5.0)
        if load_exit(bundle, record.pid) is None and _wait_exit(record, 0.0):
            # Ended (gone, or a zombie the host's init has not reaped yet) and no record: if no shim
            # saw it end, the one there now records it (a no-op for a shim that watches it).
            self._adopt(bundle, record)
        self._wait_exit_file(bundle, record.pid, 5.0)
        return self.inspect(cid)

    def mark_removing(self, cid: str) -> None:
        """Write the removal's intent: from now on the container is only ever removed, by this
        process or, if it dies first, by whoever finds it DEAD. Idempotent."""
        bundle, record = self._load(cid)
        if record.intent != REMOVING or record.intent_by != self._me:
            record.intent, record.intent_by = REMOVING, self._me
            faults.point("remove.intent")
            save_record(bundle, record)

    def remove(self, cid: str, force: bool = False) -> None:
        """Stop (with ``force``) and remove the container: its process, the shim's record, its
        cgroups, then its bundle, whose record goes last, so a removal cut short anywhere is
        finished by the next one (the record still says REMOVING)."""
        bundle, record = self._load(cid)
        # exit.json comes before the shim reaps PID 1: once `inspect` says exited, remove agrees.
        running = load_exit(bundle, record.pid) is None and is_alive(record)
        if running and not force:
            raise ContainerStateError(f"container {record.name} is running; stop it first or force")
        with self.removing(cid):
            if running:
                self.stop(cid, timeout=0)
            faults.point("remove.shim")
            try:
                self.shim.forget(cid)
            except RuntimeFailure:
                pass  # a shim that never knew it (restarted) has nothing to forget
            cgroup = self.cgroups.open(cid)
            if cgroup is not None:
                faults.point("remove.cgroup")
                cgroup.kill()
                cgroup.remove()
            self.cgroups_cleanup()
            faults.point("remove.bundle")
            self._delete_bundle(bundle)

    def _delete_bundle(self, bundle: Path) -> None:
        """Rename the bundle out of the containers' listing (atomic: it is there whole, record
        included, or not at all), then delete it; `collect_debris` finishes a deletion cut short."""
        trash = bundle.with_name(TRASH_PREFIX + bundle.name)
        try:
            os.rename(bundle, trash)
        except FileNotFoundError:
            return
        except OSError:
            trash = bundle  # (a trash dir of the same id left over: delete in place)
        shutil.rmtree(trash, ignore_errors=True)

    def collect_debris(self) -> list[str]:
        """Bundles left half made or half deleted by a process that died: directories with no
        record (a create cut short before its first write) and trash. Only for a time when no
        create of this instance is under way (the engine's start); returns what was deleted."""
        removed = []
        root = self.layout.containers_dir
        for path in sorted(root.iterdir()) if root.exists() else []:
            if path.name.startswith(TRASH_PREFIX) or not (path / "container.json").exists():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed

    def exec(self, cid: str, args: list[str], env: list[str] | None = None, user: str | None = None,
             workdir: str | None = None) -> ExecSession:
        """Run ``args`` inside a running container, with its namespaces, cgroup and security profile."""
        _, record = self._load(cid)
        if not is_alive(record):
            raise ContainerStateError(f"container {record.name} is not running")
        pid, out_fd, err_fd = self.shim.exec(
            {"id": cid, "args": args, "env": env or [], "user": user, "workdir": workdir}
        )
        return ExecSession(self.shim, pid, out_fd, err_fd)

    def exec_session(self, cid: str, args: list[str], env: list[str] | None = None, user: str | None = None,
                     workdir: str | None = None, tty: bool = False, stdin: bool = False,
                     size: tuple[int, int] | None = None) -> tuple[int, socket.socket]:
        """Like `exec`, with the process's stdio kept in the shim: returns its pid and the client's
        end of its session (runtime/container/session.py), to hand to whoever types into it."""
        _, record = self._load(cid)
        if not is_alive(record):
            raise ContainerStateError(f"container {record.name} is not running")
        return self.shim.exec_session({"id": cid, "args": args, "env": env or [], "user": user, "workdir": workdir},
                                      tty, stdin, size)

    def attach(self, cid: str, stdin: bool) -> tuple[dict[str, Any], socket.socket]:
        """A session on a created or running container's stdio (its output from now on, its input
        when ``stdin`` and the container keeps stdin open): ``({"tty", "stdin_open"}, socket)``."""
        _, record = self._load(cid)
        try:
            return self.shim.attach(cid, stdin)
        except ShimError as exc:
            raise ContainerStateError(f"cannot attach to {record.name}: {exc}") from exc

    def copy_stat(self, cid: str, path: str, follow: bool = False) -> dict[str, Any]:
        """`cp`: what ``path`` is in a container, running or stopped (``exists``, ``dir``, ``parent_dir``)."""
        return copy.path_info(self._copy_where(cid), path, follow)

    def copy_from(self, cid: str, path: str, arcname: str, follow: bool = False) -> socket.socket:
        """`cp` out of a container: a socket yielding a JSON line, then a tar of ``path``."""
        return copy.archive(self._copy_where(cid), path, arcname, follow)

    def copy_into(self, cid: str, directory: str, keep_owners: bool) -> socket.socket:
        """`cp` into a container: a socket taking a tar to extract into ``directory``."""
        return copy.extract(self._copy_where(cid), directory, keep_owners)

    def _copy_where(self, cid: str) -> str:
        """A running container's mount namespace, or a stopped one's bundle (its root is mounted for
        the copy alone, as `docker cp` does for a stopped container)."""
        bundle, record = self._load(cid)
        return copy.running(record.pid) if is_alive(record) else copy.stopped(bundle)

    def processes(self, cid: str) -> list[dict[str, Any]]:
        """What `top` shows: every process in the container's cgroup, as the host sees it."""
        cgroup = self.cgroups.open(cid)
        if cgroup is None:
            return []
        rows = []
        for pid in sorted(cgroup.pids()):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                uid = Path(f"/proc/{pid}").stat().st_uid
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            cpu_s = (int(fields[11]) + int(fields[12])) / ticks
            rows.append({"uid": uid, "pid": pid, "ppid": int(fields[1]), "time": cpu_s,
                         "cmd": cmdline.strip() or stat.split("(", 1)[1].rsplit(")", 1)[0]})
        return rows

    # --- observation -----------------------------------------------------------------------------
    def inspect(self, cid: str) -> ContainerInfo:
        bundle, record = self._load(cid)
        return self._observe(bundle, record)

    def exists(self, cid: str) -> bool:
        """The container has a record (one being deleted has none: its bundle was renamed first)."""
        return (self.layout.containers_dir / cid / "container.json").exists()

    def containers(self) -> list[ContainerInfo]:
        result = []
        for bundle in sorted(self.layout.containers_dir.iterdir()) if self.layout.containers_dir.exists() else []:
            if bundle.name.startswith(TRASH_PREFIX):
                continue
            record = load_record(bundle)
            if record is not None:
                result.append(self._observe(bundle, record))
        return result

    def volume_users(self) -> dict[str, list[ContainerInfo]]:
        """Volume name → the containers (running or not) that mount it, from their specs."""
        users: dict[str, list[ContainerInfo]] = {}
        prefix = str(self.layout.volumes_dir) + "/"
        for info in self.containers():
            try:
                raw = json.loads((self.layout.containers_dir / info.id / "spec.json").read_text())
            except (OSError, ValueError):
                continue
            names = {str(m.get("volume") or "") for m in [*raw.get("binds", []), *raw.get("tmpfs", [])]}
            # specs written before binds named their volume: the source path says it
            names |= {str(b["source"])[len(prefix):].split("/")[0] for b in raw.get("binds", [])
                      if str(b.get("source", "")).startswith(prefix)}
            for name in sorted(names - {""}):
                users.setdefault(name, []).append(info)
        return users

    def cgroups_cleanup(self) -> None:
        """Remove this instance's (empty) parent cgroups; busy ones stay for the next time."""
        try:
            self.cgroups.remove_parent_if_unused()
        except RuntimeFailure:
            pass

    def log_path(self, cid: str) -> Path:
        return self.layout.containers_dir / cid / LOG_NAME

    def archive_logs(self, cid: str, dest: Path) -> bool:
        """Move a container's log and its rotated files into ``dest`` (made here), so they outlive
        the container's removal; the same files, so a reader following them keeps reading."""
        files = log_files(self.log_path(cid))
        if not files:
            return False
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        for file in files:
            for name in (file.name, file.name + ".gz"):  # a rotated file may have been gzipped meanwhile
                try:
                    shutil.move(file.parent / name, dest / name)  # a rename on the same filesystem
                    break
                except FileNotFoundError:
                    continue
        return True

    def exit_events(self) -> Iterator[dict[str, Any]]:
        return self.shim.events()

    def cgroup(self, cid: str) -> Cgroup | None:
        return self.cgroups.open(cid)

    def set_hosts(self, cid: str, entries: list[tuple[str, str]]) -> None:
        """Rewrite the container's /etc/hosts in place (it is bind-mounted, so the inode must stay)."""
        path = self.layout.containers_dir / cid / "hosts"
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{ip}\t{names}" for ip, names in entries]
        with open(path, "r+") as f:
            f.seek(0)
            f.write("\n".join(lines) + "\n")
            f.truncate()

    def _observe(self, bundle: Path, record: ContainerRecord) -> ContainerInfo:
        """The container as the kernel and the shim's records show it; a step under way (or left
        by a process that died: DEAD) overrides the status."""
        info = self._observe_process(bundle, record)
        record = info.record  # read again if the container was run again meanwhile
        if not record.intent:
            return info
        if record.intent_by == self._me:  # ours: under way now, or left half done by a failed step
            with self._steps_guard:
                step = record.intent if record.id in self._steps else DEAD
        else:
            step = intent_status(record) or DEAD
        return replace(info, status=step)

    def _observe_process(self, bundle: Path, record: ContainerRecord) -> ContainerInfo:
        exit_info = load_exit(bundle, record.pid)
        if exit_info is None:
            if is_alive(record):
                if not record.started_at:
                    return ContainerInfo(record, "created", None, None)
                return ContainerInfo(record, "paused" if (bundle / "paused").exists() else "running", None, None)
            # Run again since ``record`` was read (a restart saved another pid), and maybe ended
            # again too, so the exit record is about that run: it is that run that is seen.
            fresh = load_record(bundle)
            if fresh is not None and (fresh.pid, fresh.pid_start_time) != (record.pid, record.pid_start_time):
                return self._observe_process(bundle, fresh)
            # The shim writes exit.json before it reaps the PID, so a PID seen gone after a first
            # miss has its record by now, if the shim was there to write it; if not (it died), the
            # shim there now records that the exit went unseen (the one writer of exit records).
            exit_info = load_exit(bundle, record.pid)
            if exit_info is None and record.pid and self._adopt(bundle, record):
                exit_info = load_exit(bundle, record.pid)
        if exit_info is not None:
            cgroup = self.cgroups.open(record.id)
            oom = bool(cgroup is not None and cgroup.oom_kill_count() > record.oom_kills_before)
            return ContainerInfo(record, "exited", int(exit_info["exit_code"]), exit_info.get("finished_at"), oom,
                                 bool(exit_info.get("unknown")))
        if record.pid:
            # Gone without an exit record: the shim was not there to reap it.
            return ContainerInfo(record, "exited", -1, None)
        return ContainerInfo(record, "created", None, None)

    def _load(self, cid: str) -> tuple[Path, ContainerRecord]:
        bundle = self.layout.containers_dir / cid
        record = load_record(bundle)
        if record is None:
            raise ContainerNotFound(f"no such container: {cid}")
        return bundle, record

    def _wait_exit_file(self, bundle: Path, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while load_exit(bundle, pid) is None and time.monotonic() < deadline:
            time.sleep(0.005)

    def _write_network_files(self, bundle: Path, hostname: str, config: RunConfig) -> list[BindMount]:
        joined = joined_bundle(config.network_mode, self.layout.containers_dir)
        if joined is not None:  # the joined container's files, as Docker shares them
            return [BindMount(str(joined / name), f"/etc/{name}", config.read_only)
                    for name in ("hostname", "hosts", "resolv.conf")]
        (bundle / "hostname").write_text(hostname + "\n")
        extra = [(ip, host) for host, ip in config.extra_hosts.items()]
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{ip}\t{host}" for ip, host in extra]
        (bundle / "hosts").write_text("\n".join(lines) + "\n")
        (bundle / "resolv.conf").write_text(_resolv_conf(config.dns, config.dns_search, config.dns_options))
        if config.network_mode == "host":
            hosts, resolv = host_files(config.extra_hosts)
            (bundle / "hosts").write_text(hosts)
            if not config.dns and not config.dns_search and not config.dns_options:
                (bundle / "resolv.conf").write_text(resolv)  # loopback resolvers work in the host's netns
        ro = config.read_only
        return [
            BindMount(str(bundle / "hostname"), "/etc/hostname", ro),
            BindMount(str(bundle / "hosts"), "/etc/hosts", ro),
            BindMount(str(bundle / "resolv.conf"), "/etc/resolv.conf", ro),
        ]


def overlay_lower_dirs(layer_dirs: list[Path]) -> list[str]:
    """overlayfs's ``lowerdir=`` (top first) with each directory once: an image may hold the same
    layer twice (a RUN that changed nothing, the same COPY again), and the kernel refuses a
    lowerdir given twice ("conflicting lowerdir path", ELOOP). Keeping the topmost occurrence
    merges to the same tree: whatever the lower copy provides, the upper one provides above it."""
    seen: set[Path] = set()
    out: list[str] = []
    for path in reversed(layer_dirs):
        if path not in seen:
            seen.add(path)
            out.append(str(path))
    return out


def _resolv_conf(dns: list[str], search: list[str], options: list[str] | None = None) -> str:
    if not dns:
        try:
            host = Path("/etc/resolv.conf").read_text().splitlines()
        except OSError:
            host = []
        dns = [line.split()[1] for line in host if line.startswith("nameserver") and len(line.split()) > 1]
        dns = [d for d in dns if not d.startswith("127.")]
    out = [f"nameserver {d}" for d in dns]
    if search:
        out.append("search " + " ".join(search))
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def _cgroup_resources(config: RunConfig) -> CgroupResources:
    r = config.resources
    return CgroupResources(
        memory_limit=r.memory_limit,
        memory_reservation=r.memory_reservation,
        memory_swap=r.memory_swap,
        nano_cpus=r.nano_cpus,
        cpu_shares=r.cpu_shares,
        cpuset_cpus=r.cpuset_cpus,
        pids_limit=r.pids_limit,
    )


class ExecSession:
    """A running `exec`: read its output, then its exit code."""

    def __init__(self, shim: ShimClient, pid: int, out_fd: int, err_fd: int) -> None:
        self.shim = shim
        self.pid = pid
        self._fds = {out_fd: "stdout", err_fd: "stderr"}

    def raw_fds(self) -> list[tuple[int, str]]:
        """The output pipes, for callers that multiplex with their own deadline (health probes)."""
        return list(self._fds.items())

    def output(self) -> Iterator[tuple[str, bytes]]:
        while self._fds:
            ready = readable(list(self._fds), None)
            for fd in ready:
                data = os.read(fd, 65536)
                if data:
                    yield self._fds[fd], data
                else:
                    os.close(fd)
                    del self._fds[fd]

    def wait(self, timeout: float = 30.0) -> int:
        for fd in list(self._fds):
            os.close(fd)
        self._fds.clear()
        deadline = time.monotonic() + timeout
        while True:
            info = self.shim.exec_status(self.pid)
            if info is not None:
                return int(info["exit_code"])
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"exec process {self.pid} did not finish")
            time.sleep(0.01)


def _failure(exc: RuntimeFailure) -> type[RuntimeFailure]:
    """The error a shim failure becomes: the container's configuration's own when the shim says
    so (an unknown user, a missing command), which the engine then does not retry."""
    if isinstance(exc, ConfigurationError) or (isinstance(exc, ShimError) and exc.refused):
        return ConfigurationError
    return RuntimeFailure


def _attach_unless_gone(cgroup: Cgroup, pid: int) -> None:
    """Put PID 1 in its cgroups; a PID 1 that has died in its setup meanwhile (a bind source gone,
    say) is no error here: the shim, which reaps it, reads why from its setup channel and reports
    that instead."""
    try:
        cgroup.attach(pid)
    except CgroupError as exc:
        cause = exc.__cause__
        if not (isinstance(cause, OSError) and cause.errno == errno.ESRCH):
            raise


def _spare_cgroups_config(cgroup: Cgroup) -> dict[str, Any]:
    """Where the shim may make cgroups ahead of time (spare_cgroup.py): the parents of this
    instance's container cgroups, one per hierarchy."""
    cpuset = cgroup.v1_dirs.get("cpuset")
    return {"parents": [str(d.parent) for d in cgroup.directories],
            "cpuset_parent": str(cpuset.parent) if cpuset is not None else None}


def _cgroup_resources_from_spec_file(bundle: Path) -> CgroupResources:
    """The limits a create stored; no file: it set none (created when each inode cost an `up`
    dear: ext4 without a journal skips every recently freed inode when it allocates one)."""
    try:
        return CgroupResources(**json.loads((bundle / "resources.json").read_text()))
    except FileNotFoundError:
        return CgroupResources()


def _wait_exit(record: ContainerRecord, timeout: float) -> bool:
    """Wait for a process that is not our child, without polling: a pidfd turns readable on exit."""
    if not record.pid:
        return True  # it never had one (pidfd_open(0) is EINVAL)
    try:
        fd = os.pidfd_open(record.pid)
    except ProcessLookupError:
        return True
    try:
        if not is_alive(record):
            return True
        ready = readable([fd], max(timeout, 0))
        return bool(ready)
    finally:
        os.close(fd)


__all__ = ["ContainerInfo", "ContainerRuntime", "RunConfig"]
