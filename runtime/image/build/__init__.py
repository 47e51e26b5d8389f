"""`pyorch build`: Dockerfile parsing, stages, the layer cache and the builder."""

from runtime.image.build.builder import Builder, BuildEvent, BuildRequest, BuildResult
from runtime.image.build.errors import BuildError, DockerfileError
from runtime.image.build.parser import parse

__all__ = ["BuildError", "BuildEvent", "BuildRequest", "BuildResult", "Builder", "DockerfileError", "parse"]
