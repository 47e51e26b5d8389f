"""One thread for the host's netlink socket.

pyroute2 (0.9) gives each thread that uses an `IPRoute` a netlink socket of its own, kept in a
thread-local and in a set on the `IPRoute`, and frees them only when the `IPRoute` is closed.
The engine's API serves each request on a new thread, so a long-lived `IPRoute` used from there
gained a NETLINK_ROUTE socket per request that ever touched the network: about two per
`up`/`down` cycle, 206 sockets after 100 cycles (issue 20; `bench/bench_soak.py` shows it).
Every call is therefore made on one thread that owns the `IPRoute`, whoever asks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from runtime.network.pyroute2_parts import IPRoute


class HostNetlink:
    """``IPRoute``'s methods, each run on this object's own thread; results come back whole
    (a dump is read to its end there, never iterated from another thread)."""

    def __init__(self, factory: Callable[[], IPRoute] = IPRoute) -> None:
        self._factory = factory
        self._ipr: IPRoute | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyorch-netlink")
        self._closed = threading.Event()

    def _own(self) -> IPRoute:
        if self._ipr is None:
            self._ipr = self._factory()
        return self._ipr

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            result = getattr(self._own(), method)(*args, **kwargs)
            return list(result) if isinstance(result, Iterator) else result

        return self._thread.submit(run).result()

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda *args, **kwargs: self.call(method, *args, **kwargs)

    def close(self) -> None:
        """Close the socket (on its thread) and end the thread."""
        def close() -> None:
            if self._ipr is not None:
                self._ipr.close()
                self._ipr = None

        if not self._closed.is_set():
            self._closed.set()
            self._thread.submit(close).result()
            self._thread.shutdown(wait=True)
