"""`pyorch build`: Dockerfile parsing, stages, the layer cache and the builder.

The builder itself (`Builder`, `BuildRequest`, `BuildResult`: its stages, steps, sources and
downloads, two dozen modules) is imported when first asked for: the engine holds it in memory
only once something is built (docs/engine.md, "Fleets of hundreds"); so is the Dockerfile parser
(`parse`), which only a build reads.
"""

from typing import TYPE_CHECKING, Any

from runtime.image.build.errors import BuildError, DockerfileError
from runtime.image.build.progress import BuildEvent, StepRecord

if TYPE_CHECKING:
    from runtime.image.build.builder import Builder, BuildRequest, BuildResult
    from runtime.image.build.parser import parse

_FROM_BUILDER = ("Builder", "BuildRequest", "BuildResult")


def __getattr__(name: str) -> Any:
    if name in _FROM_BUILDER:
        from runtime.image.build import builder

        return getattr(builder, name)
    if name == "parse":
        from runtime.image.build import parser

        return parser.parse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BuildError", "BuildEvent", "BuildRequest", "BuildResult", "Builder", "DockerfileError", "StepRecord",
           "parse"]
