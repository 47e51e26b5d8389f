"""`devices` and `device_cgroup_rules`: parsing and host lookups, refused before anything exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.security.device_requests import host_device, parse_cgroup_rule
from runtime.security.devices import DeviceRule, DeviceRuleError
from runtime.security.policy import plan_security


@pytest.mark.parametrize(("text", "rule"), [
    ("c 1:3 mr", DeviceRule("c", 1, 3, "mr")),
    ("b 7:* rmw", DeviceRule("b", 7, None, "rmw")),
    ("a *:* rwm", DeviceRule("a", None, None, "rwm")),
])
def test_docker_rule_syntax(text: str, rule: DeviceRule) -> None:
    assert parse_cgroup_rule(text) == rule
    assert parse_cgroup_rule(rule.v1_line()) == rule  # what a respawn reads back from spec.json


@pytest.mark.parametrize("text", ["c 1:3", "x 1:3 r", "c 1:3 rx", "c 1:3 rr", "c one:3 r", "c 1-3 r"])
def test_malformed_rules_are_refused_with_the_rule(text: str) -> None:
    with pytest.raises(DeviceRuleError, match="device_cgroup_rules"):
        parse_cgroup_rule(text)


def test_host_device_takes_numbers_mode_and_owner_from_the_host_node() -> None:
    info = os.stat("/dev/null")
    node, rule = host_device("/dev/null", "/dev/mynull", "rw")
    assert (node.path, node.kind, node.major, node.minor) == ("/dev/mynull", "c", os.major(info.st_rdev),
                                                              os.minor(info.st_rdev))
    assert node.mode == info.st_mode & 0o7777 and (node.uid, node.gid) == (info.st_uid, info.st_gid)
    assert rule == DeviceRule("c", node.major, node.minor, "rw")
    assert host_device("/dev/null", None, None)[0].path == "/dev/null"


def test_not_a_device_bad_permissions_and_bad_targets_are_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(DeviceRuleError, match="not a character or block device"):
        host_device(str(tmp_path / "file"), None, None)
    with pytest.raises(DeviceRuleError, match="No such file"):
        host_device(str(tmp_path / "missing"), None, None)
    with pytest.raises(DeviceRuleError, match="permissions"):
        host_device("/dev/null", None, "rx")
    with pytest.raises(DeviceRuleError, match="absolute"):
        host_device("/dev/null", "dev/null", None)
    with pytest.raises(DeviceRuleError, match="absolute"):
        host_device("/dev/null", "/dev/../etc/passwd", None)


def test_plan_security_checks_devices_before_anything_runs(tmp_path: Path) -> None:
    plan = plan_security(seccomp="unconfined", privileged=False, capabilities=[], sysctls={}, ulimits={},
                         cache_dir=tmp_path, device_mappings=[("/dev/null", "/dev/n2", None)],
                         device_cgroup_rules=["c 10:237 rw"])
    assert [n.path for n in plan.device_nodes] == ["/dev/n2"]
    assert plan.device_rules[0] == DeviceRule("c", 10, 237, "rw") and plan.device_rules[1].access == "rwm"
    with pytest.raises(DeviceRuleError):
        plan_security(seccomp="unconfined", privileged=False, capabilities=[], sysctls={}, ulimits={},
                      cache_dir=tmp_path, device_cgroup_rules=["c 10:237"])
