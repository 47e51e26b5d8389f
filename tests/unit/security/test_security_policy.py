"""Security settings are checked, and seccomp profiles compiled, before any container exists."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest

from runtime.security.policy import plan_security
from runtime.security.seccomp import SeccompProfileError, compile_profile, load_profile_file
from runtime.security.seccomp_default import default_profile
from runtime.security.sysctls import SysctlNotAllowed, check_sysctls
from runtime.security.ulimits import UlimitError, check_ulimits


@pytest.mark.parametrize("key", ["net.ipv4.ip_unprivileged_port_start", "net.core.somaxconn", "kernel.shmmax",
                                 "kernel.msgmnb", "fs.mqueue.msg_max", "kernel.sem"])
def test_namespaced_sysctls_are_accepted(key: str) -> None:
    check_sysctls({key: "1"}, private_network=True)


@pytest.mark.parametrize("key", ["vm.swappiness", "kernel.pid_max", "fs.file-max", "kernel.hostname"])
def test_host_wide_sysctls_are_refused(key: str) -> None:
    with pytest.raises(SysctlNotAllowed, match=key):
        check_sysctls({key: "1"}, private_network=True)


def test_net_sysctls_are_refused_on_the_host_network() -> None:
    with pytest.raises(SysctlNotAllowed, match="host's network"):
        check_sysctls({"net.core.somaxconn": "1"}, private_network=False)


def test_ulimits_within_the_host_limit_pass_and_unknown_or_inverted_fail() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert check_ulimits({"nofile": (64, 128)}) == [("nofile", 64, 128)]
    with pytest.raises(UlimitError, match="unknown resource"):
        check_ulimits({"nofiles": (1, 1)})
    with pytest.raises(UlimitError, match="soft limit"):
        check_ulimits({"nofile": (128, 64)})
    if hard != resource.RLIM_INFINITY:
        with pytest.raises(UlimitError, match="above the host"):
            check_ulimits({"nofile": (hard + 1, hard + 1)})


def test_default_profile_compiles_to_bpf_and_is_cached(tmp_path: Path) -> None:
    first = compile_profile(default_profile(), ["CHOWN", "KILL"], tmp_path)
    program = first.path.read_bytes()
    assert program and len(program) % 8 == 0
    assert first.rules > 300
    again = compile_profile(default_profile(), ["KILL", "CHOWN"], tmp_path)
    assert again.path == first.path
    # CAP_SYS_ADMIN unlocks mount/unshare/setns...: a different program.
    admin = compile_profile(default_profile(), ["CHOWN", "KILL", "SYS_ADMIN"], tmp_path)
    assert admin.path != first.path and admin.rules > first.rules


def test_profile_file_errors_name_the_file_and_place(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"defaultAction": "SCMP_ACT_ERRNO",\n "syscalls": [}')
    with pytest.raises(SeccompProfileError, match=r"bad\.json:2:"):
        load_profile_file(bad_json)
    bad_action = tmp_path / "act.json"
    bad_action.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO",
                                      "syscalls": [{"names": ["read"], "action": "SCMP_ACT_MAYBE"}]}))
    with pytest.raises(SeccompProfileError, match=r"syscalls\[0\]"):
        load_profile_file(bad_action)
    with pytest.raises(SeccompProfileError, match=r"missing\.json"):
        load_profile_file(tmp_path / "missing.json")


def test_plan_security_unconfined_and_privileged_have_no_filter(tmp_path: Path) -> None:
    common = dict(capabilities=["CHOWN"], sysctls={}, ulimits={}, cache_dir=tmp_path)
    assert plan_security(seccomp="unconfined", privileged=False, **common).seccomp_path == ""  # type: ignore[arg-type]
    assert plan_security(seccomp=None, privileged=True, **common).seccomp_path == ""  # type: ignore[arg-type]
    assert plan_security(seccomp=None, privileged=False, **common).seccomp_path  # type: ignore[arg-type]
