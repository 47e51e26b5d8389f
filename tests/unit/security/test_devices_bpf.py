"""The assembled device program, run by a small interpreter of the instructions it uses.

The kernel test (tests/integration/container/test_devices.py) shows the kernel accepts and
enforces it; this one checks every branch of the rule logic against the v1 semantics, cheaply.
"""

from __future__ import annotations

import itertools
import struct

import pytest

from runtime.security.devices import ALLOW_ALL, DEFAULT_RULES, DeviceRule, DeviceRuleError
from runtime.security.devices_bpf import assemble, encode

ACCESS = {"m": 1, "r": 2, "w": 4}
TYPES = {"b": 1, "c": 2}


def run(program: bytes, kind: str, access: str, major: int, minor: int) -> int:
    """Interpret the subset of eBPF the assembler emits; returns r0 at exit."""
    ctx = struct.pack("<III", (sum(ACCESS[a] for a in access) << 16) | TYPES[kind], major, minor)
    regs = [0] * 11
    pc, steps = 0, 0
    while True:
        steps += 1
        assert steps < 10_000, "no exit"
        code, regs_byte, off, imm = struct.unpack_from("<BBhi", program, pc * 8)
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if code == 0x61:
            assert src == 1, "only the context is read"
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == 0x57:
            regs[dst] &= imm & 0xFFFFFFFFFFFFFFFF
        elif code == 0x77:
            regs[dst] >>= imm
        elif code == 0xB7:
            regs[dst] = imm
        elif code == 0xBF:
            regs[dst] = regs[src]
        elif code == 0x55:
            pc += off if regs[dst] != imm else 0
        elif code == 0x5D:
            pc += off if regs[dst] != regs[src] else 0
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def allowed_v1(rules: tuple[DeviceRule, ...], kind: str, access: str, major: int, minor: int) -> bool:
    """The devices cgroup v1 rule semantics the program must reproduce."""
    return any((r.kind in ("a", kind)) and set(access) <= set(r.access)
               and r.major in (None, major) and r.minor in (None, minor) for r in rules)


@pytest.mark.parametrize("rules", [DEFAULT_RULES, ALLOW_ALL, (DeviceRule("b", 8, None, "r"),
                                                              DeviceRule("c", None, 4, "rw"))])
def test_program_decides_like_the_v1_allowlist(rules: tuple[DeviceRule, ...]) -> None:
    program = encode(assemble(rules))
    majors = {r.major for r in rules if r.major is not None} | {0, 7, 250}
    minors = {r.minor for r in rules if r.minor is not None} | {0, 237}
    for kind, access, major, minor in itertools.product("bc", ("m", "r", "w", "rw", "rwm"), majors, minors):
        verdict = run(program, kind, access, major, minor)
        assert verdict == allowed_v1(rules, kind, access, major, minor), (kind, access, major, minor)


def test_default_rules_allow_mknod_of_anything_but_open_only_of_the_standard_nodes() -> None:
    program = encode(assemble(DEFAULT_RULES))
    assert run(program, "b", "m", 7, 0) == 1        # mknod of a loop device: allowed, as Docker does
    assert run(program, "b", "r", 7, 0) == 0        # ... but it cannot be opened
    assert run(program, "c", "rw", 10, 237) == 0    # /dev/loop-control
    assert run(program, "c", "rw", 1, 3) == 1       # /dev/null
    assert run(program, "c", "rw", 136, 5) == 1     # a pty


def test_an_unknown_device_kind_is_refused_before_loading() -> None:
    with pytest.raises(DeviceRuleError):
        assemble((DeviceRule("x", 1, 1, "r"),))
