"""`cp` at the runtime's door: a worker process (copy_helper.py) inside a container's mount
namespace (a running container's, or a namespace of its own with a stopped container's root
mounted) reports on a path, writes a tar of it, or extracts one, over a socket that the caller
hands to whoever sends or receives the tar (the CLI, through the engine, as with terminal
sessions). A fresh `python -I -S` per copy: the engine's threads make forking it unsafe for
setns, and the shim stays out of bulk data.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from runtime.errors import RuntimeFailure

_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from runtime.container.copy_helper import main; main(sys.argv[2:])")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
STAT_TIMEOUT_S = 30.0


class CopyFailed(RuntimeFailure):
    """The copy could not be done; the message is what the user sees."""


def _command(*args: str) -> list[str]:
    return [sys.executable, "-I", "-S", "-c", _BOOT, _PACKAGE_ROOT, *args]


def running(pid: int) -> str:
    """Where a running container is: its PID 1, whose mount namespace the worker enters."""
    return f"pid:{pid}"


def stopped(bundle: Path) -> str:
    """Where a stopped container is: its bundle, whose root the worker mounts for itself."""
    return f"bundle:{bundle}"


def path_info(where: str, path: str, follow: bool) -> dict[str, Any]:
    """``{"exists", "dir", "parent_dir"}`` of ``path`` as the container ``where`` (`running`,
    `stopped`) sees it."""
    done = subprocess.run(_command("stat", where, path, "1" if follow else "0"), capture_output=True,
                          timeout=STAT_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)
    return _answer(done.stdout, done.stderr)


def archive(where: str, path: str, arcname: str, follow: bool) -> socket.socket:
    """A socket that yields a JSON line, then ``path`` as a tar whose top entry is ``arcname``."""
    return _spawn("archive", where, path, arcname, "1" if follow else "0")


def extract(where: str, directory: str, keep_owners: bool) -> socket.socket:
    """A socket that takes a tar (then a shutdown of writing) to extract into ``directory``, and
    answers one JSON line when done."""
    return _spawn("extract", where, directory, "1" if keep_owners else "0")


def _spawn(*args: str) -> socket.socket:
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with mine:
        worker = subprocess.Popen(_command(*args), stdin=mine.fileno(), stdout=mine.fileno(), stderr=subprocess.DEVNULL,
                                  close_fds=True)
    threading.Thread(target=worker.wait, name="pyorch-cp", daemon=True).start()  # reaped when done
    return theirs


def _answer(stdout: bytes, stderr: bytes) -> dict[str, Any]:
    try:
        reply: dict[str, Any] = json.loads(stdout.split(b"\n", 1)[0])
    except ValueError:
        raise CopyFailed(f"cp: the worker failed: {stderr.decode(errors='replace').strip()[-500:]}") from None
    if "error" in reply:
        raise CopyFailed(str(reply["error"]))
    return reply
