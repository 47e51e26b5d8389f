"""The bpf() syscall, just enough to load a cgroup device program and attach it to a cgroup.

Python has no binding for bpf(); the attribute unions are packed by hand (`include/uapi/linux/
bpf.h`). Unused trailing bytes stay zero, which the kernel requires of attributes it does not
know.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_NR_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine(), -1)

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 1 << 1

_ATTR_SIZE = 128  # larger than every command's part of `union bpf_attr` used here
_LOG_SIZE = 1 << 16


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    if _NR_BPF < 0:
        raise OSError(38, f"bpf() is not wired for {platform.machine()}")
    result = int(_libc.syscall(_NR_BPF, cmd, ctypes.byref(attr), _ATTR_SIZE))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def load_cgroup_device_program(instructions: bytes, name: str = "") -> int:
    """Load a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd (close-on-exec, as the kernel makes it).

    On a verifier rejection the OSError carries the verifier's log, which names the bad instruction.
    """
    code = ctypes.create_string_buffer(instructions, len(instructions))
    license_text = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(_LOG_SIZE)
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIQQIIQII16s", attr, 0,
                     BPF_PROG_TYPE_CGROUP_DEVICE, len(instructions) // 8, ctypes.addressof(code),
                     ctypes.addressof(license_text), 1, _LOG_SIZE, ctypes.addressof(log), 0, 0,
                     name.encode()[:15])
    try:
        return _bpf(BPF_PROG_LOAD, attr)
    except OSError as exc:
        detail = log.value.decode(errors="replace").strip()
        raise OSError(exc.errno, f"{exc.strerror}{': ' + detail if detail else ''}") from None


def attach_cgroup_device_program(cgroup_fd: int, program_fd: int, flags: int = 0) -> None:
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIII", attr, 0, cgroup_fd, program_fd, BPF_CGROUP_DEVICE, flags)
    _bpf(BPF_PROG_ATTACH, attr)


def attached_program_count(cgroup_fd: int) -> int:
    """How many device programs are attached directly to the cgroup (BPF_PROG_QUERY)."""
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    # query: target_fd, attach_type, query_flags, attach_flags (out), prog_ids ptr, prog_cnt (in/out)
    struct.pack_into("<IIIIQI", attr, 0, cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, 0, 0)
    _bpf(BPF_PROG_QUERY, attr)
    return int(struct.unpack_from("<I", attr, 24)[0])
