"""`devices` (host device nodes made available in a container) and `device_cgroup_rules`.

Both only widen Docker's default allowlist. A host device is looked up when the container is
created: its type and numbers go into the allowlist with the requested permissions, and the
container's /dev gets a node with the same numbers, mode and owner (Docker does the same; the
host node itself is never bind-mounted).
"""

from __future__ import annotations

import os
import re
import stat

from runtime.container.spec import DeviceNode
from runtime.security.devices import DeviceRule, DeviceRuleError

_RULE = re.compile(r"^([acb]) (\d+|\*):(\d+|\*) ([rwm]{1,3})$")


def parse_cgroup_rule(text: str) -> DeviceRule:
    """Docker's `device_cgroup_rules` syntax: `TYPE MAJOR:MINOR ACCESS`, e.g. `c 1:3 mr`, `b 7:* rmw`."""
    match = _RULE.match(text.strip())
    if match is None or len(set(match.group(4))) != len(match.group(4)):
        raise DeviceRuleError(f"device_cgroup_rules: {text!r} is not `TYPE MAJOR:MINOR ACCESS` "
                              "(TYPE a, b or c; numbers or *; ACCESS from r, w, m)")
    kind, major, minor, access = match.groups()
    return DeviceRule(kind, None if major == "*" else int(major), None if minor == "*" else int(minor), access)


def host_device(source: str, target: str | None, permissions: str | None) -> tuple[DeviceNode, DeviceRule]:
    """Look up a host device node for `devices: [SOURCE[:TARGET[:PERMISSIONS]]]`."""
    access = permissions or "rwm"
    if not access or set(access) - set("rwm") or len(set(access)) != len(access):
        raise DeviceRuleError(f"devices: {source}: permissions {permissions!r} are not a combination of r, w, m")
    path = target or source
    if not os.path.isabs(path) or ".." in path.split("/"):
        raise DeviceRuleError(f"devices: {source}: the container path {path!r} must be absolute, without '..'")
    try:
        info = os.stat(source)
    except OSError as exc:
        raise DeviceRuleError(f"devices: {source}: {exc.strerror}") from exc
    if stat.S_ISCHR(info.st_mode):
        kind = "c"
    elif stat.S_ISBLK(info.st_mode):
        kind = "b"
    else:
        raise DeviceRuleError(f"devices: {source} is not a character or block device")
    major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
    node = DeviceNode(os.path.normpath(path), kind, major, minor, stat.S_IMODE(info.st_mode), info.st_uid,
                      info.st_gid)
    return node, DeviceRule(kind, major, minor, access)
