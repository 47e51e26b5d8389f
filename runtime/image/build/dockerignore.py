"""``.dockerignore``: which context paths a build may not see, with Docker's pattern rules.

One pattern a line; ``#`` lines are comments; paths are cleaned (leading ``/``, ``./`` and trailing
``/`` removed); ``*`` and ``?`` match within one path component, ``**`` any number of components,
``[…]`` a character class; ``!pattern`` re-includes. The last matching pattern wins, and a pattern
that matches a directory also matches everything below it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool  # a "!" pattern: matching paths are included again
    text: str


class DockerIgnore:
    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
            cleaned = posixpath.normpath(line.lstrip("/")) if line.lstrip("/") else "."
            if cleaned == ".":
                continue  # Docker ignores "." and "/" patterns
            self.patterns.append(_Pattern(re.compile(_regex(cleaned)), exclusion, line))

    @classmethod
    def from_context(cls, context: Path) -> DockerIgnore:
        path = context / ".dockerignore"
        return cls(path.read_text(errors="replace").splitlines() if path.is_file() else [])

    def ignored(self, relative: str) -> bool:
        """Whether ``relative`` (a path inside the context, '/'-separated) is hidden from the build."""
        path = posixpath.normpath(relative)
        parents = _parents(path)
        result = False
        for pattern in self.patterns:
            if any(pattern.regex.fullmatch(p) for p in parents):
                result = not pattern.exclusion
        return result

    @property
    def has_exceptions(self) -> bool:
        """A "!" pattern may re-include something under an ignored directory: walk those too."""
        return any(p.exclusion for p in self.patterns)


def _parents(path: str) -> list[str]:
    """``a/b/c`` → ``a``, ``a/b``, ``a/b/c``: a pattern matching a parent hides the path too."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    out.append("(?:.*/)?")  # "**/" matches zero or more directories
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)
