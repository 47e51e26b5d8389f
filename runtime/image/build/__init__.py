"""`pyorch build`: Dockerfile parsing, stages, the layer cache and the builder."""

from runtime.image.build.builder import Builder, BuildRequest, BuildResult
from runtime.image.build.errors import BuildError, DockerfileError
from runtime.image.build.parser import parse
from runtime.image.build.progress import BuildEvent, StepRecord

__all__ = ["BuildError", "BuildEvent", "BuildRequest", "BuildResult", "Builder", "DockerfileError", "StepRecord",
           "parse"]
