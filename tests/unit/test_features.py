"""The kernel feature probe: placement of controllers, the notes on fallbacks, how `info` shows them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from orchestrator.cli.cmd_info import rows
from runtime.cgroups import CgroupLayout
from runtime.features import (
    BridgeNetfilter,
    KernelFeatures,
    Uplink,
    _with_notes,
    bridge_netfilter,
    controller_placement,
    default_route_uplink,
    probe,
)

HYBRID = CgroupLayout("hybrid", {c: Path(f"/sys/fs/cgroup/{c}") for c in ("cpu", "memory", "devices", "freezer")},
                      Path("/sys/fs/cgroup/unified"), ())
V2 = CgroupLayout("v2", {}, Path("/sys/fs/cgroup"), ("cpu", "memory", "pids", "io"))


def test_hybrid_keeps_v1_controllers_and_v2_gives_the_rest() -> None:
    placement = controller_placement(HYBRID)
    assert placement["memory"] == "v1" and placement["devices"] == "v1" and placement["freezer"] == "v1"
    assert "pids" not in placement  # neither a v1 hierarchy nor enabled in cgroup2
    placement = controller_placement(V2)
    assert placement == {"cpu": "v2", "memory": "v2", "pids": "v2", "io": "v2", "freezer": "v2", "devices": "v2"}


def _features(**changes: object) -> KernelFeatures:
    base = KernelFeatures(
        kernel="6.18 x86_64", cgroup_mode="v2", controllers=controller_placement(V2), cgroup_kill=True,
        cgroup_favordynmods=True,
        freezer="v2", devices="ebpf", pidfd_open=True, pidfd_exit_info=True, close_range=True, overlay=True,
        overlay_options={"index": "N"}, seccomp=True, seccomp_actions=["errno", "allow"], seccomp_binding="6")
    return _with_notes(dataclasses.replace(base, **changes))  # type: ignore[arg-type]


def test_notes_name_each_fallback_in_effect() -> None:
    assert _features().notes == []
    notes = _features(cgroup_kill=False, devices="none", seccomp_binding="", pidfd_exit_info=False).notes
    assert len(notes) == 4
    assert any("favordynmods" in n for n in _features(cgroup_favordynmods=False).notes)
    assert any("cgroup.kill" in n for n in notes) and any("device" in n for n in notes)
    assert any("seccomp=unconfined" in n for n in notes) and any("PIDFD_INFO_EXIT" in n for n in notes)


def test_info_rows_show_the_mechanisms() -> None:
    shown = dict(rows(_features(devices="ebpf", cgroup_kill=False).to_dict()))
    assert shown["device allowlist"] == "ebpf"
    assert shown["cgroup.kill"] == "[red]no[/]"
    assert shown["libseccomp binding"] == "API level 6"
    assert "memory:v2" in shown["controllers"]


def test_probe_agrees_with_what_the_host_shows() -> None:
    features = probe()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert (features.devices == "cgroup-v1") == any(
        line.split(" - ")[1].startswith("cgroup ") and "devices" in line.split()[-1].split(",")
        for line in mounts.splitlines() if " - " in line)
    assert features.overlay == ("overlay" in Path("/proc/filesystems").read_text())
    assert features.seccomp == ("Seccomp:" in Path("/proc/self/status").read_text())
    assert features.pidfd_open == hasattr(os, "pidfd_open")
    unified = [line for line in mounts.splitlines() if " - cgroup2 " in line]
    assert features.cgroup_favordynmods == any("favordynmods" in line.split()[-1] for line in unified)


def test_bridge_netfilter_is_read_from_its_sysctls(tmp_path: Path) -> None:
    proc = tmp_path / "bridge"
    assert bridge_netfilter(proc, tmp_path / "module") == BridgeNetfilter("absent", None, None, None)
    proc.mkdir()
    for name, value in (("iptables", "1"), ("ip6tables", "0"), ("arptables", "1")):
        (proc / f"bridge-nf-call-{name}").write_text(value + "\n")
    assert bridge_netfilter(proc, tmp_path / "module") == BridgeNetfilter("built-in", 1, 0, 1)
    (tmp_path / "module").mkdir()
    assert bridge_netfilter(proc, tmp_path / "module").module == "loaded"


def test_the_uplink_is_the_lowest_metric_default_route(tmp_path: Path) -> None:
    header = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
    (tmp_path / "route").write_text(header + "wg0\t00000000\t00000000\t0001\t0\t0\t50\t00000000\t0\t0\t0\n"
                                    "eth0\t00000000\t010200C0\t0003\t0\t0\t10\t00000000\t0\t0\t0\n"
                                    "br0\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n")
    for name, mtu in (("wg0", "1420"), ("eth0", "1400")):
        (tmp_path / "net" / name).mkdir(parents=True)
        (tmp_path / "net" / name / "mtu").write_text(mtu)
    assert default_route_uplink(tmp_path / "route", tmp_path / "net") == Uplink("eth0", 1400)
    (tmp_path / "route").write_text(header)
    assert default_route_uplink(tmp_path / "route", tmp_path / "net") is None


def test_info_rows_show_bridge_netfilter_and_the_uplink() -> None:
    on = _features(bridge_netfilter=BridgeNetfilter("built-in", 1, 1, 0), uplink=Uplink("eth0", 1400))
    shown = dict(rows(on.to_dict()))
    assert shown["bridge netfilter"] == "br_netfilter built-in: bridge-nf-call iptables=1 ip6tables=1 arptables=0"
    assert shown["uplink"] == "eth0, MTU 1400 (new networks' default MTU)"
    assert any("bridge netfilter is on" in n for n in on.notes)
    off = _features(bridge_netfilter=BridgeNetfilter("absent", None, None, None))
    assert "not loaded" in dict(rows(off.to_dict()))["bridge netfilter"] and off.notes == []
