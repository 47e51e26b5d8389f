"""An attached client's session with a container's or an exec'd process's stdio: the frames on it.

The client (`pyorch exec`, `run`, `attach`) gets one end of a unix socketpair whose other end the
shim keeps; the engine hands the client's end over and steps out (docs/architecture.md, "Terminal
sessions"). Frames are frames.py's:

    client → shim   STDIN <bytes>          input for the process (ignored unless stdin is open)
                    STDIN_CLOSE            end of input: the stdin pipe is closed
                    RESIZE <rows> <cols>   the terminal's size (two unsigned 16-bit, big-endian)
                    DETACH                 leaving on purpose: the process keeps running
                    SIGNAL <n>             a signal for the process (signed 32-bit): sig-proxy
    shim → client   STDOUT <bytes>, STDERR <bytes>   output (a terminal's is all STDOUT)
                    EXIT <json>            {"exit_code": N}, after the last output; then end-of-file

A client that goes away without DETACH hangs an exec up (its pty is closed, SIGHUP goes to its
process group): no process is left waiting on a terminal nobody holds. A container outlives its
clients. The CLI imports these kinds from here (orchestrator/cli/session.py): this module, like
frames.py, is of the standard library alone, as the layering test requires of the runtime's
modules the CLI may import.
"""

from __future__ import annotations

import struct

STDIN = b"i"
STDIN_CLOSE = b"c"
RESIZE = b"w"
DETACH = b"d"
SIGNAL = b"k"
STDOUT = b"o"
STDERR = b"e"
EXIT = b"x"

SIZE = struct.Struct("!HH")
SIGNUM = struct.Struct("!i")
