"""The ENOSYS prefix put before compiled profiles, run by a classic-BPF interpreter of its opcodes."""

from __future__ import annotations

import errno
import struct

import pytest

from runtime.security.seccomp import enosys_prefix

X86_64, AARCH64 = 0xC000003E, 0xC00000B7


def outcome(program: bytes, arch: int, nr: int) -> str:
    """'enosys' if the prefix returns, 'profile' if it falls through to the filter after it."""
    data = struct.pack("<iI", nr, arch)  # struct seccomp_data: int nr; u32 arch; ...
    count = len(program) // 8
    pc, acc = 0, 0
    while pc < count:
        code, jt, jf, k = struct.unpack_from("<HBBI", program, pc * 8)
        pc += 1
        if code == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
        elif code in (0x15, 0x35, 0x25):
            taken = {0x15: acc == k, 0x35: acc >= k, 0x25: acc > k}[code]
            pc += jt if taken else jf
        elif code == 0x06:
            assert k == 0x00050000 | errno.ENOSYS
            return "enosys"
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    assert pc == count, "jumped past the start of the profile"
    return "profile"


@pytest.mark.parametrize(("arch", "nr", "expected"), [
    (X86_64, 0, "profile"),
    (X86_64, 450, "profile"),            # the highest the profile names
    (X86_64, 451, "enosys"),
    (X86_64, 1000, "enosys"),
    (X86_64, 0x40000000 + 2, "profile"),  # x32 ABI: the profile decides
    (0x40000003, 451, "profile"),         # i386: the profile decides
])
def test_only_native_syscalls_newer_than_the_profile_get_enosys(arch: int, nr: int, expected: str) -> None:
    assert outcome(enosys_prefix(X86_64, 450), arch, nr) == expected


def test_the_prefix_follows_the_machine_architecture() -> None:
    assert outcome(enosys_prefix(AARCH64, 450), AARCH64, 460) == "enosys"
    assert outcome(enosys_prefix(AARCH64, 450), X86_64, 460) == "profile"
