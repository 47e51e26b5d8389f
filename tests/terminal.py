"""A real terminal for tests: a program run in a private tmux server, read back as the screen a person sees.

tmux is a full terminal emulator (alternate screen, cursor movement, colours, resizing), so what
`capture-pane` returns is what would be on the user's screen, and keys are sent as a terminal sends
them. Each `Terminal` has its own server socket: tests never touch a user's tmux.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class Terminal:
    def __init__(self, socket: Path, width: int, height: int) -> None:
        self.socket = socket
        self.status_file = socket.with_name("status")
        self.width = width
        self.height = height

    def _tmux(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True,
                                check=False, timeout=30)
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def screen(self) -> str:
        """The visible screen, one line per row, trailing blanks removed."""
        return self._tmux("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        """Keys by tmux name (`Down`, `Enter`, `C-c`, `Escape`) or literal text (`r`, `y`)."""
        for key in keys:
            self._tmux("send-keys", "-t", "t", key)

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))
        self.width, self.height = width, height

    def pane(self, field: str) -> str:
        """A tmux format variable of the pane: `pane_dead`, `pane_dead_status`, `alternate_on`, ..."""
        return self._tmux("display-message", "-p", "-t", "t", f"#{{{field}}}").strip()

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Poll the screen until ``check`` accepts it; fail with the last screen shown."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{screen}")

    def wait_text(self, text: str, timeout: float = 30.0) -> str:
        return self.wait_for(lambda s: text in s, repr(text), timeout)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """The program's exit status (128 + N for a signal N), as the shell that ran it saw it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status_file.exists() and self.status_file.read_text().strip():
                return int(self.status_file.read_text())
            time.sleep(0.1)
        raise AssertionError(f"the program did not exit; the screen was:\n{self.screen()}")


@contextmanager
def terminal(command: list[str], env: dict[str, str], width: int = 80, height: int = 24,
             cwd: str | None = None, after: str = "") -> Iterator[Terminal]:
    """Run ``command`` in a fresh ``width``×``height`` terminal; the server and the program end on exit.

    A shell runs the program and writes its exit status for `wait_exit` (tmux may report a pane
    dead before it has reaped the process), then runs the shell line ``after`` (e.g. `stty -a`, to
    see the terminal as the program left it). The pane stays after that, so a test can read the
    last screen. The environment goes in through the script, so that no command line carries it.
    """
    with tempfile.TemporaryDirectory(prefix="pyorch-tty-") as tmp:
        term = Terminal(Path(tmp) / "tmux.sock", width, height)
        script = Path(tmp) / "run.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items() if k.isidentifier())
        chdir = f"cd {shlex.quote(cwd)}\n" if cwd else ""
        # `trap : INT`: Ctrl-C is for the program, not for this shell (a caught signal is reset at exec)
        script.write_text(f"trap : INT\n{exports}{chdir}{shlex.join(command)}\n"
                          f"echo $? > {shlex.quote(str(term.status_file))}\n{after}\n")
        config = Path(tmp) / "tmux.conf"
        # no status line (the program gets every row); the pane outlives the program
        config.write_text("set -g status off\nset -g remain-on-exit on\nset -g escape-time 0\n")
        term._tmux("-f", str(config), "new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                   "sh", str(script))
        pane_pid = int(term.pane("pane_pid"))
        try:
            yield term
        finally:
            term._tmux("kill-server", check=False)
            _wait_gone(pane_pid)


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    """kill-server hangs the pane up and returns at once: wait for its program to end (then kill it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
