"""Errors of `pyorch build`: every one names the Dockerfile line it comes from when there is one."""

from __future__ import annotations

from runtime.image.errors import ImageError


class BuildError(ImageError):
    """A build failed: a step exited non-zero, a source is missing, a base image cannot be found."""


class DockerfileError(BuildError):
    """The Dockerfile cannot be parsed or asks for something pyorch does not do; refused before any step runs."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        super().__init__(f"{filename}:{line}: {message}" if line else f"{filename}: {message}")
        self.filename = filename
        self.line = line


class BuildCancelled(BuildError):
    """A step stopped because another stage of the same build failed (that failure is the one reported)."""
