"""What this kernel offers the runtime, probed once at start-up (reference/runtime.md, Appendix A).

Each probe asks the kernel itself (a syscall or the file it would use), not its version number,
except where the only observable is an exited process (`PIDFD_INFO_EXIT`, checked on a child we
fork for the purpose). The result says which mechanism the runtime uses and which fallback is in
effect; `pyorch info` shows it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import platform
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from runtime.cgroups import CgroupLayout, detect
from runtime.cgroups.detect import V1_CONTROLLERS, V2_CONTROLLERS
from runtime.container.shim_adopt import pidfd_exit_status

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_NR_CLOSE_RANGE = 436                                   # the same on every architecture


@dataclass(frozen=True)
class BridgeNetfilter:
    """Whether frames switched inside a bridge traverse the ip/ip6/arp hooks (br_netfilter).

    The values can change while the engine runs (other software sets them), so `pyorch info`
    reads them again on every request; pyorch's rules are right under either (docs/networking.md).
    """

    module: str                      # "loaded" (a module), "built-in", "absent"
    call_iptables: int | None        # /proc/sys/net/bridge/bridge-nf-call-*; None without br_netfilter
    call_ip6tables: int | None
    call_arptables: int | None


@dataclass(frozen=True)
class Uplink:
    """The interface of the host's IPv4 default route: its MTU is a new network's default."""

    ifname: str
    mtu: int


@dataclass(frozen=True)
class KernelFeatures:
    kernel: str
    cgroup_mode: str                                    # v1 | hybrid | v2
    controllers: dict[str, str]                         # controller → "v1" | "v2" (absent: unavailable)
    cgroup_kill: bool                                   # cgroup.kill (else freeze + kill each + thaw)
    cgroup_favordynmods: bool                           # cgroup2 mounted with favordynmods
    freezer: str                                        # v1 | v2 | none
    devices: str                                        # cgroup-v1 | ebpf | none
    pidfd_open: bool
    pidfd_exit_info: bool                               # PIDFD_INFO_EXIT (else: the shim's waitpid)
    close_range: bool                                   # else: close() each fd
    overlay: bool
    overlay_options: dict[str, str]
    seccomp: bool                                       # kernel filter mode available
    seccomp_actions: list[str]
    seccomp_binding: str                                # libseccomp API level, "" if not importable
    bridge_netfilter: BridgeNetfilter | None = None     # as found now (see `refreshed`)
    uplink: Uplink | None = None                        # None: no IPv4 default route
    notes: list[str] = field(default_factory=list)      # fallbacks in effect, in words

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def refreshed(self) -> KernelFeatures:
        """The same probe with the host's network settings read again (they change at run time)."""
        return _with_notes(dataclasses.replace(self, bridge_netfilter=bridge_netfilter(),
                                               uplink=default_route_uplink()))


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def controller_placement(layout: CgroupLayout) -> dict[str, str]:
    """Which hierarchy serves each controller pyorch uses (runc prefers v1 on hybrid hosts)."""
    placement = {c: "v1" for c in V1_CONTROLLERS if c in layout.v1}
    for controller in layout.v2_controllers:
        if controller in V2_CONTROLLERS and controller not in placement:
            placement[controller] = "v2"
    if layout.unified is not None:
        placement.setdefault("freezer", "v2")        # cgroup2 has a core freezer
        placement.setdefault("devices", "v2")        # via an eBPF program
    return placement


def _cgroup_kill(layout: CgroupLayout) -> bool:
    """cgroup.kill exists in every non-root cgroup2 directory of kernels that have it."""
    if layout.unified is None:
        return False
    with contextlib.suppress(OSError):
        for entry in os.scandir(layout.unified):
            if entry.is_dir(follow_symlinks=False):
                return os.path.exists(os.path.join(entry.path, "cgroup.kill"))
    # No child cgroup to look at yet: cgroup.kill arrived in 5.14.
    release = tuple(int(p) for p in platform.release().split("-")[0].split(".")[:2] if p.isdigit())
    return release >= (5, 14)


def _favordynmods(layout: CgroupLayout) -> bool:
    """Whether cgroup2 is mounted `favordynmods`: then joining a cgroup does not wait for an RCU grace
    period (the kernel's cgroup threadgroup lock stays in its writer-friendly mode; forks pay a little)."""
    if layout.unified is None:
        return False
    for line in _read("/proc/self/mountinfo").splitlines():
        fields, _, tail = line.partition(" - ")
        parts = fields.split()
        if len(parts) > 4 and parts[4] == str(layout.unified) and tail.startswith("cgroup2 "):
            return "favordynmods" in tail.split()[-1].split(",")
    return False


def _int_or_none(path: Path) -> int | None:
    text = _read(str(path))
    return int(text) if text.lstrip("-").isdigit() else None


def bridge_netfilter(proc_sys: Path = Path("/proc/sys/net/bridge"),
                     sys_module: Path = Path("/sys/module/br_netfilter")) -> BridgeNetfilter:
    """br_netfilter's sysctls exist exactly while it is active; a loaded module also shows in
    /sys/module (a built-in one without parameters does not)."""
    values = {name: _int_or_none(proc_sys / f"bridge-nf-call-{name}") for name in ("iptables", "ip6tables",
                                                                                   "arptables")}
    if values["iptables"] is None:
        module = "absent"
    else:
        module = "loaded" if sys_module.is_dir() else "built-in"
    return BridgeNetfilter(module, values["iptables"], values["ip6tables"], values["arptables"])


def default_route_uplink(route_table: Path = Path("/proc/net/route"),
                         net_class: Path = Path("/sys/class/net")) -> Uplink | None:
    """The interface of the lowest-metric IPv4 default route of the main table, with its MTU."""
    best: tuple[int, str] | None = None
    for line in _read(str(route_table)).splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8 or cols[1] != "00000000" or cols[7] != "00000000" or not int(cols[3], 16) & 1:
            continue  # not a default route, or not up (RTF_UP)
        metric = int(cols[6])
        if best is None or metric < best[0]:
            best = (metric, cols[0])
    if best is None:
        return None
    mtu = _int_or_none(net_class / best[1] / "mtu")
    return Uplink(best[1], mtu) if mtu else None


def _device_enforcement(layout: CgroupLayout) -> str:
    if "devices" in layout.v1:
        return "cgroup-v1"
    if layout.unified is None:
        return "none"
    from runtime.security import devices, devices_bpf  # imports bpf only where it may be used
    try:
        devices_bpf.preload(devices.DEFAULT_RULES)
    except devices.DeviceRuleError:
        return "none"
    return "ebpf"


def _pidfd() -> tuple[bool, bool]:
    """(pidfd_open works, PIDFD_GET_INFO reports the exit status of a reaped child)."""
    try:
        own = os.pidfd_open(os.getpid())
    except (OSError, AttributeError):
        return False, False
    os.close(own)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # wait for the parent to hold a pidfd, then exit with a recognisable status
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(7)
    os.close(read_end)
    pidfd = os.pidfd_open(pid)
    try:
        os.close(write_end)
        os.waitpid(pid, 0)
        try:
            status = pidfd_exit_status(pidfd)
        except OSError:
            return True, False
        return True, status is not None and os.waitstatus_to_exitcode(status) == 7
    finally:
        os.close(pidfd)


def _close_range() -> bool:
    top = 0xFFFFFFFF  # an empty range: closes nothing, tells whether the call exists
    return int(_libc.syscall(_NR_CLOSE_RANGE, top, top, 0)) == 0


def _seccomp_binding() -> str:
    try:
        import seccomp
    except ImportError:
        return ""
    return str(seccomp.get_api())


def probe(layout: CgroupLayout | None = None) -> KernelFeatures:
    """Probe now (a few milliseconds: one fork, one BPF load where eBPF is used)."""
    layout = layout or detect()
    placement = controller_placement(layout)
    seccomp_kernel = any(line.startswith("Seccomp:") for line in _read("/proc/self/status").splitlines())
    overlay_params = Path("/sys/module/overlay/parameters")
    options = {p.name: _read(str(p)) for p in sorted(overlay_params.iterdir())} if overlay_params.is_dir() else {}
    pidfd_open, pidfd_exit = _pidfd()
    features = KernelFeatures(
        kernel=f"{platform.release()} {platform.machine()}",
        cgroup_mode=layout.mode,
        controllers=placement,
        cgroup_kill=_cgroup_kill(layout),
        cgroup_favordynmods=_favordynmods(layout),
        freezer=placement.get("freezer", "none"),
        devices=_device_enforcement(layout),
        pidfd_open=pidfd_open,
        pidfd_exit_info=pidfd_exit,
        close_range=_close_range(),
        overlay=any(line.split()[-1] == "overlay" for line in _read("/proc/filesystems").splitlines() if line),
        overlay_options=options,
        seccomp=seccomp_kernel,
        seccomp_actions=_read("/proc/sys/kernel/seccomp/actions_avail").split(),
        seccomp_binding=_seccomp_binding(),
        bridge_netfilter=bridge_netfilter(),
        uplink=default_route_uplink(),
    )
    return _with_notes(features)


def _with_notes(f: KernelFeatures) -> KernelFeatures:
    notes: list[str] = []
    missing = [c for c in ("cpu", "memory", "pids") if c not in f.controllers]
    if missing:
        notes.append(f"no {', '.join(missing)} controller: limits that need it are refused")
    if not f.cgroup_kill:
        notes.append("no cgroup.kill: stop freezes the cgroup, kills each process, thaws")
    if f.controllers and not f.cgroup_favordynmods:
        notes.append("cgroup2 is not mounted favordynmods: joining a container's cgroups waits for an RCU "
                     "grace period (ms on a busy host; docs/security.md)")
    if f.devices == "none":
        notes.append("no device cgroup: only the minimal /dev protects host devices")
    if not f.pidfd_exit_info:
        notes.append("no PIDFD_INFO_EXIT: exit statuses come only from the shim (its waitpid)")
    if not f.close_range:
        notes.append("no close_range: inherited fds are closed one by one")
    if not f.seccomp or not f.seccomp_binding:
        notes.append("no seccomp filtering (kernel or libseccomp binding missing): containers need "
                     "security_opt seccomp=unconfined")
    if not f.overlay:
        notes.append("no overlay filesystem: containers cannot start")
    if f.bridge_netfilter is not None and f.bridge_netfilter.call_iptables:
        notes.append("bridge netfilter is on: traffic inside a network also crosses the ip forward hook, "
                     "where pyorch accepts it; another firewall's drop there (e.g. a FORWARD policy DROP) "
                     "drops it too (docs/networking.md)")
    return dataclasses.replace(f, notes=notes)


@cache
def host_features() -> KernelFeatures:
    """The probe, once per process."""
    return probe()
