"""What the route modules (`*_api.py`) need of the API's request handler (api.py `_Handler`), in
one place: each module names the narrowest of these it uses, instead of its own copy."""

from __future__ import annotations

from typing import Any, Protocol


class Replier(Protocol):
    """A route that reads its checked body and answers with one JSON reply."""

    def body(self) -> dict[str, Any]: ...
    def reply(self, status: int, payload: Any) -> None: ...


class Streamer(Replier, Protocol):
    """A route that may also stream JSON lines on the connection until the engine stops."""

    wfile: Any

    def stream_start(self) -> None: ...
    def stopping(self) -> bool: ...
