"""Whether an API client has hung up, for streams that write only when something happens.

A follower of a quiet project's events or a quiet container's logs would otherwise notice that
its client left only at its next write, which may never come: a thread per closed follower.
"""

from __future__ import annotations

import socket

from runtime.fdwait import readable


def peer_closed(connection: socket.socket) -> bool:
    """True once the other end has closed (EOF waiting, nothing left unread before it)."""
    if not readable([connection], 0):
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
