"""The shim's socket protocol, defined once for the shim (shim.py) and its client (shim_client.py).

Newline-delimited JSON over a root-only unix stream socket, one request and one reply at a time
per connection. Errors: ``{"ok": false, "error": ...}``, with ``"refused": true`` when the
container's configuration is the cause (a retry would fail the same way).

- ``{"op": "ping"}`` → ``{"ok": true, "pid": N, "version": VERSION}``: the engine's first question to a
  shim it did not start (one an older pyorch left running), which it refuses to drive when the
  version differs (a shim that predates the handshake says none).
- ``{"op": "create", "spec": {...}}`` → ``{"ok": true, "pid": N}``. With ``"early": true`` a first
  ``{"ok": true, "pid": N, "early": true, "in_cgroup": bool}`` comes as soon as the container's
  PID 1 (and so its namespaces) exists, before the final reply: the client plumbs the network
  while the root filesystem is built. With ``"client_attaches": true`` as well, the client makes
  the cgroups meanwhile and, once PID 1 is in them, sends ``{"op": "attached"}`` (or
  ``{"op": "abort", "error": ...}``); stage 2 waits for that before it leaves the host's cgroup
  namespace. ``"spare_cgroups": {"parents": [...], "cpuset_parent": ...}`` tells the shim where
  container cgroups live, so that it can make them ahead of time (spare_cgroup.py).
- ``{"op": "reserve"}`` → ``{"ok": true, "id": ... or null}``: the id whose cgroups already hold
  the warm PID 1, for the client's next create (whose early reply then says ``"in_cgroup": true``).
- ``{"op": "start", "id": ...}`` → ``{"ok": true, "pid": N}``; a container already running
  answers the same with ``"already": true`` (a client that died before it recorded its start).
- ``{"op": "exec", "id": ..., "args": [...], "env": [...], "user": ..., "workdir": ...}`` →
  ``{"ok": true, "pid": N}`` with the read ends of its stdout and stderr (SCM_RIGHTS).
  With ``"session": {"tty": bool, "stdin": bool, "size": [rows, cols]}`` the process's stdio
  stays in the shim (a pty made inside the container when ``tty``) and the reply carries the
  client's end of its session instead (session.py).
- ``{"op": "attach", "id": ..., "stdin": bool}`` → ``{"ok": true, "tty": bool, "stdin_open": bool}``
  with the client's end of a session on the container's stdio (SCM_RIGHTS).
- ``{"op": "exec_status", "pid": N}`` → ``{"ok": true, "exit": null or {"exit_code": N}}``.
- ``{"op": "list"}`` → ``{"ok": true, "containers": [...], "spare": id or null}``.
- ``{"op": "adopt", "spec": {...}, "pid": N, "pid_start_time": T, "started": bool}``: watch a
  container a shim before this one forked (shim_adopt.py) → ``{"ok": true, "adopted": bool}``;
  ``"known": true`` when it is watched already, ``"exit": {...}`` when its process was gone (an
  exit record with ``"unknown": true`` was written).
- ``{"op": "forget", "id": ...}``: kill and drop a container (also gives a reserved spare up).
- ``{"op": "subscribe"}`` → ``{"ok": true}`` (every exit after it is sent), then the connection is a stream of
  ``{"event": "exit", "id": ..., "pid": N, "exit_code": N, "signal": N, "finished_at": T}``.

Standard library only.
"""

from __future__ import annotations

import enum
import json
from typing import Any

# The protocol's version: bumped whenever a message or the ContainerSpec changes in a way a shim
# of another version would misread. A shim outlives upgrades of pyorch (live restore), so the
# engine asks before it drives one it did not start (shim_client.ShimClient).
VERSION = 1


class Op(enum.StrEnum):
    PING = "ping"
    CREATE = "create"
    ATTACHED = "attached"
    ABORT = "abort"
    RESERVE = "reserve"
    START = "start"
    EXEC = "exec"
    ATTACH = "attach"
    EXEC_STATUS = "exec_status"
    LIST = "list"
    ADOPT = "adopt"
    FORGET = "forget"
    SUBSCRIBE = "subscribe"


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def request(op: Op, **fields: Any) -> bytes:
    return encode({"op": op.value, **fields})


def error(text: str, refused: bool = False) -> dict[str, Any]:
    """A failed request; ``refused``: the container's configuration is the cause (an unknown user,
    a command that is not there), so trying again fails the same way."""
    return {"ok": False, "error": text, "refused": True} if refused else {"ok": False, "error": text}


class LineBuffer:
    """Bytes in, JSON messages out, one per line; a line split across reads waits for its rest."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> None:
        self.buf += data

    def has_line(self) -> bool:
        return b"\n" in self.buf

    def next(self) -> dict[str, Any] | None:
        """The next whole message, or None while none is complete."""
        end = self.buf.find(b"\n")
        if end < 0:
            return None
        line = bytes(self.buf[:end])
        del self.buf[:end + 1]
        message: dict[str, Any] = json.loads(line)
        return message
