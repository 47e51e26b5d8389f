"""User-facing errors of the control plane. The CLI renders all of them in one place."""

from __future__ import annotations


class PyorchError(Exception):
    """Base of every error a user may see; the message says what to do."""


class EngineError(PyorchError):
    """The engine refused a request (bad input, conflict) before changing anything."""


class EngineUnavailable(PyorchError):
    """The CLI could not reach or start the engine."""


class EngineGone(EngineUnavailable):
    """The engine went away (killed, crashed) while it handled a request: its connection closed
    before a whole answer came. ``what``: the request (``POST /v1/projects/up``)."""

    def __init__(self, what: str, hint: str = "") -> None:
        message = f"the pyorch engine stopped while it handled {what} (it was killed or crashed)"
        super().__init__(message + (f"; {hint}" if hint else ""))
        self.what = what


class DiskFull(PyorchError):
    """The filesystem of pyorch's state is full: nothing new is taken on until space is freed
    (what runs keeps running; reads still answer). The message names the filesystem."""
