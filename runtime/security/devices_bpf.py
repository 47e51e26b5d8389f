"""The device allowlist as an eBPF program, for cgroup v2 (which has no `devices.*` files).

The kernel runs a BPF_PROG_TYPE_CGROUP_DEVICE program on every mknod and every open of a device
node by a process of the cgroup; it returns 1 to allow and 0 to refuse (EPERM). Its context is
`struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` where `access_type` is
`(access << 16) | type`, access bits mknod=1 read=2 write=4, type block=1 char=2.

The program is a straight list of rule blocks, each jumping to the next block when one of its
tests fails, and allowing when all pass; falling off the last block refuses. It is assembled here
(`assemble`, pure) and handed to the kernel once per rule set; the same loaded program is then
attached to every container's cgroup.
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

from runtime.linux import bpf
from runtime.security.devices import ALLOW_ALL, DeviceRule, DeviceRuleError

_ACCESS_BITS = {"m": 1, "r": 2, "w": 4}
_TYPE_CODES = {"b": 1, "c": 2}

# eBPF opcodes (include/uapi/linux/bpf_common.h + bpf.h) used by the program.
_LDX_W = 0x61        # dst = *(u32 *)(src + off)
_AND_K = 0x57        # dst &= imm           (64-bit ALU)
_RSH_K = 0x77        # dst >>= imm
_MOV_K = 0xB7        # dst = imm
_MOV_X = 0xBF        # dst = src
_JNE_K = 0x55        # if dst != imm: pc += off
_JNE_X = 0x5D        # if dst != src: pc += off
_EXIT = 0x95

# Registers: r1 holds the context on entry; r2..r5 receive its fields; r0 is the verdict.
_R0, _R1, _R2, _R3, _R4, _R5 = range(6)


@dataclass(frozen=True)
class Insn:
    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def encode(self) -> bytes:
        return struct.pack("<BBhi", self.code, self.dst | (self.src << 4), self.off, self.imm)


def _rule_block(rule: DeviceRule) -> list[Insn]:
    """Instructions that allow when `rule` matches; every failed test jumps past the block's end."""
    tests: list[Insn] = []
    if rule.kind != "a":
        tests.append(Insn(_JNE_K, _R2, imm=_TYPE_CODES[rule.kind]))
    wanted = sum(_ACCESS_BITS[c] for c in set(rule.access))
    if wanted != 0b111:
        # The requested access must be a subset of the rule's: (access & allowed) == access.
        tests += [Insn(_MOV_X, _R1, _R3), Insn(_AND_K, _R1, imm=wanted)]
        tests.append(Insn(_JNE_X, _R1, _R3))
    if rule.major is not None:
        tests.append(Insn(_JNE_K, _R4, imm=rule.major))
    if rule.minor is not None:
        tests.append(Insn(_JNE_K, _R5, imm=rule.minor))
    allow = [Insn(_MOV_K, _R0, imm=1), Insn(_EXIT)]
    block = tests + allow
    # Point each jump at the first instruction after the block (offsets count from the next insn).
    return [Insn(i.code, i.dst, i.src, len(block) - index - 1, i.imm) if i.code in (_JNE_K, _JNE_X) else i
            for index, i in enumerate(block)]


def assemble(rules: tuple[DeviceRule, ...]) -> list[Insn]:
    """The whole program: load the context fields, one block per rule, refuse by default."""
    for rule in rules:
        if rule.kind not in ("a", "b", "c") or not rule.access or set(rule.access) - set("rwm"):
            raise DeviceRuleError(f"device rule {rule.v1_line()!r} cannot be expressed")
    program = [
        Insn(_LDX_W, _R2, _R1, 0), Insn(_AND_K, _R2, imm=0xFFFF),   # type
        Insn(_LDX_W, _R3, _R1, 0), Insn(_RSH_K, _R3, imm=16),       # access
        Insn(_LDX_W, _R4, _R1, 4),                                   # major
        Insn(_LDX_W, _R5, _R1, 8),                                   # minor
    ]
    for rule in rules:
        program += _rule_block(rule)
    return [*program, Insn(_MOV_K, _R0, imm=0), Insn(_EXIT)]


def encode(program: list[Insn]) -> bytes:
    return b"".join(i.encode() for i in program)


_loaded: dict[tuple[DeviceRule, ...], int] = {}
_loaded_lock = threading.Lock()


def preload(rules: tuple[DeviceRule, ...]) -> int:
    """The loaded program for `rules` (an fd): each rule set is loaded and verified once per process."""
    with _loaded_lock:
        fd = _loaded.get(rules)
        if fd is None:
            try:
                fd = bpf.load_cgroup_device_program(encode(assemble(rules)), "pyorch_devices")
            except OSError as exc:
                raise DeviceRuleError(f"cannot load the device filter (bpf): {exc.strerror}") from exc
            _loaded[rules] = fd
        return fd


def apply_v2(cgroup_dir: Path, rules: tuple[DeviceRule, ...]) -> None:
    """Attach the allowlist to a cgroup2 directory (before any process joins it).

    The attachment lives as long as the cgroup: nothing to undo at removal. Allowing everything
    needs no program at all.
    """
    if rules == ALLOW_ALL:
        return
    program = preload(rules)
    try:
        cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise DeviceRuleError(f"device allowlist in {cgroup_dir}: {exc.strerror}") from exc
    try:
        if bpf.attached_program_count(cgroup_fd) == 0:  # a respawn reuses its cgroup
            bpf.attach_cgroup_device_program(cgroup_fd, program)
    except OSError as exc:
        raise DeviceRuleError(f"device allowlist in {cgroup_dir}: {exc.strerror}") from exc
    finally:
        os.close(cgroup_fd)
