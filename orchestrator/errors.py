"""User-facing errors of the control plane. The CLI renders all of them in one place."""

from __future__ import annotations

from collections.abc import Container, Iterable


class PyorchError(Exception):
    """Base of every error a user may see; the message says what to do."""


class EngineError(PyorchError):
    """The engine refused a request (bad input, conflict) before changing anything."""


class NoSuchService(EngineError):
    """A verb named a service the project's file does not have. Every verb refuses it here, with
    Compose's words and exit code (1): the first such name, as it was typed."""

    def __init__(self, service: str) -> None:
        super().__init__(f"no such service: {service}")
        self.service = service

    @classmethod
    def refuse_unknown(cls, known: Container[str], names: Iterable[str]) -> None:
        """The one check: raise for the first of ``names`` that ``known`` lacks."""
        for name in names:
            if name not in known:
                raise cls(name)


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
