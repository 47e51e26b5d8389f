"""Typed loader errors. Every error that comes from a file names the file, line and column."""

from __future__ import annotations

from typing import NamedTuple

from orchestrator.errors import PyorchError


class Location(NamedTuple):
    """Where a value came from: a file (or "-" for stdin) and a 1-based line and column. (A named
    tuple: every CLI command imports this module, and `dataclasses` costs a start ~8 ms.)"""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"


class ComposeError(PyorchError):
    """The Compose input is invalid; the message says where and why."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class YamlSyntaxError(ComposeError):
    """The file is not well-formed YAML."""


class InterpolationError(ComposeError):
    """A `${...}` expression is malformed, or a required variable is missing."""


class SchemaError(ComposeError):
    """A key is unknown, or a value has the wrong type or form."""


class UndefinedReferenceError(ComposeError):
    """A service refers to a service, network, volume, secret or config that does not exist."""


class UnsupportedError(ComposeError):
    """Valid Compose that pyorch cannot run (refused before anything starts)."""


class CycleError(ComposeError):
    """`extends`, `include` or `depends_on` form a cycle."""


class ProjectNameError(ComposeError):
    """The project name is missing or not valid."""


class ComposeFileNotFound(ComposeError):
    """A Compose file, env file or included file could not be found or read."""
