"""User-facing errors of the control plane. The CLI renders all of them in one place."""

from __future__ import annotations


class PyorchError(Exception):
    """Base of every error a user may see; the message says what to do."""


class EngineError(PyorchError):
    """The engine refused a request (bad input, conflict) before changing anything."""


class EngineUnavailable(PyorchError):
    """The CLI could not reach or start the engine."""
