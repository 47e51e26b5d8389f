"""Dockerfile syntax: lines into instructions, before anything is built.

Handles parser directives at the top (``# escape=``` switches the escape character, ``# syntax=`` is
noted and ignored), comments, line continuations (with comment and blank lines inside skipped, as
Docker does), heredocs for RUN/COPY/ADD (``<<EOF`` … ``EOF``, ``<<-EOF`` strips leading tabs, a quoted
delimiter turns substitution off), leading ``--flags``, and the JSON (exec) form. Every instruction
and flag is checked here, so a bad Dockerfile fails with ``file:line`` before any step runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from runtime.image.build.errors import DockerfileError

_DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")

# Instruction → the flags it accepts. A flag missing here is refused.
FLAGS: dict[str, frozenset[str]] = {
    "FROM": frozenset({"platform"}),
    "RUN": frozenset({"network", "mount", "security"}),
    "COPY": frozenset({"from", "chown", "chmod", "link", "parents", "exclude"}),
    "ADD": frozenset({"chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"}),
    "HEALTHCHECK": frozenset({"interval", "timeout", "start-period", "start-interval", "retries"}),
}
SUPPORTED = frozenset({"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "CMD", "ENTRYPOINT",
                       "HEALTHCHECK", "LABEL", "STOPSIGNAL", "VOLUME", "SHELL", "MAINTAINER", "ONBUILD"})
# An ONBUILD trigger may not be one of these (Docker's rule).
NOT_TRIGGERS = frozenset({"ONBUILD", "FROM", "MAINTAINER"})
_EXEC_FORM = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_REPEATABLE = frozenset({("RUN", "mount"), ("COPY", "exclude"), ("ADD", "exclude")})
_BOOLEAN = frozenset({"link", "parents", "keep-git-dir"})  # a bare --link means --link=true
# Flags that parse but that pyorch cannot honour: refused with a reason at parse time.
_REFUSED_FLAGS = {
    ("ADD", "keep-git-dir"): "ADD of git repositories is not supported",
}


@dataclass(frozen=True)
class Heredoc:
    name: str
    body: str
    expand: bool  # an unquoted delimiter: variables in the body are substituted


@dataclass(frozen=True)
class Instruction:
    keyword: str                          # upper case
    args: str                             # the text after the flags, unexpanded
    line: int                             # 1-based line of the instruction's first line
    text: str                             # the instruction as written, continuations joined
    flags: dict[str, str] = field(default_factory=dict)  # --name=value ("true" for a bare boolean flag)
    exec_form: list[str] | None = None    # the JSON array form, when used
    heredocs: tuple[Heredoc, ...] = ()
    repeated: dict[str, tuple[str, ...]] = field(default_factory=dict)  # every value of --mount, --exclude

    def all(self, name: str) -> tuple[str, ...]:
        """Every value of a flag that may be given more than once (``--mount``), in order."""
        return self.repeated.get(name, ())


@dataclass(frozen=True)
class Dockerfile:
    filename: str
    escape: str
    instructions: list[Instruction]
    notes: list[str] = field(default_factory=list)

    def error(self, line: int, message: str) -> DockerfileError:
        return DockerfileError(self.filename, line, message)


def parse(text: str, filename: str = "Dockerfile") -> Dockerfile:
    lines = text.splitlines()
    escape, notes, start = _directives(lines, filename)
    instructions: list[Instruction] = []
    i = start
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        first = i + 1
        logical, i = _logical_line(lines, i, escape)
        keyword, _, rest = logical.strip().partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        heredocs: tuple[Heredoc, ...] = ()
        if keyword in _HEREDOC_INSTRUCTIONS and _HEREDOC.search(rest):
            heredocs, i = _heredocs(lines, i, rest, filename, first)
        instructions.append(_instruction(keyword, rest, first, logical.strip(), heredocs, filename))
    if not instructions:
        raise DockerfileError(filename, 0, "the Dockerfile has no instructions")
    return Dockerfile(filename, escape, instructions, notes)


def _directives(lines: list[str], filename: str) -> tuple[str, list[str], int]:
    """Parser directives: only at the very top, before any blank line, comment or instruction."""
    escape = "\\"
    notes: list[str] = []
    seen: set[str] = set()
    index = 0
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip()) if line.strip().startswith("#") else None
        if not match:
            return escape, notes, index
        name, value = match.group(1).lower(), match.group(2)
        if name in seen:
            raise DockerfileError(filename, index + 1, f"parser directive {name!r} is set twice")
        seen.add(name)
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(filename, index + 1, f"invalid escape character {value!r}: want \\ or `")
            escape = value
        elif name == "syntax":
            notes.append(f"{filename}:{index + 1}: '# syntax={value}' is ignored: pyorch has its own parser")
    return escape, notes, len(lines)


def _logical_line(lines: list[str], i: int, escape: str) -> tuple[str, int]:
    """Join a line with its continuations; returns the text and the index after it."""
    parts: list[str] = []
    while i < len(lines):
        line = lines[i]
        i += 1
        if parts and (not line.strip() or line.lstrip().startswith("#")):
            continue  # comments and blank lines inside a continued instruction vanish
        body = line.rstrip()
        if body.endswith(escape):  # Docker's rule: the escape character, then only blanks, ends the line
            parts.append(body[: -len(escape)])
            continue
        parts.append(line)
        return "".join(parts), i
    return "".join(parts), i


def _heredocs(lines: list[str], i: int, rest: str, filename: str, first: int) -> tuple[tuple[Heredoc, ...], int]:
    docs: list[Heredoc] = []
    for match in _HEREDOC.finditer(rest):
        strip_tabs, quote, name = match.group(1) == "-", match.group(2), match.group(3)
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise DockerfileError(filename, first, f"heredoc <<{name} is not closed by a line {name!r}")
            line = lines[i]
            i += 1
            if (line.lstrip("\t") if strip_tabs else line) == name:
                break
            body.append(line.lstrip("\t") if strip_tabs else line)
        docs.append(Heredoc(name, "\n".join(body) + "\n", expand=not quote))
    return tuple(docs), i


def parse_trigger(text: str, filename: str, line: int, escape: str = "\\") -> Instruction:
    """One ONBUILD trigger (``RUN make``): the instruction it stands for, checked like any other."""
    keyword, _, rest = text.strip().partition(" ")
    keyword = keyword.upper()
    if keyword in NOT_TRIGGERS:
        raise DockerfileError(filename, line, f"ONBUILD {keyword} is not allowed")
    return _instruction(keyword, rest.strip(), line, text.strip(), (), filename)


def _instruction(keyword: str, rest: str, line: int, text: str, heredocs: tuple[Heredoc, ...],
                 filename: str) -> Instruction:
    if keyword not in SUPPORTED:
        raise DockerfileError(filename, line, f"unknown instruction: {keyword}")
    if keyword == "ONBUILD":
        if not rest:
            raise DockerfileError(filename, line, "ONBUILD requires an instruction")
        parse_trigger(rest, filename, line)  # refused now, not when an image FROM it is built
        return Instruction(keyword, rest, line, text)
    flags, repeated, rest = _flags(keyword, rest, line, filename)
    if not rest and not heredocs:
        raise DockerfileError(filename, line, f"{keyword} requires at least one argument")
    exec_form = None
    if keyword in _EXEC_FORM and rest.startswith("["):
        exec_form = json_array(rest)
        if keyword == "SHELL" and exec_form is None:
            raise DockerfileError(filename, line, "SHELL requires the JSON form, like SHELL [\"/bin/sh\", \"-c\"]")
    elif keyword == "SHELL":
        raise DockerfileError(filename, line, "SHELL requires the JSON form, like SHELL [\"/bin/sh\", \"-c\"]")
    return Instruction(keyword, rest, line, text, flags, exec_form, heredocs, repeated)


def _flags(keyword: str, rest: str, line: int, filename: str,
           ) -> tuple[dict[str, str], dict[str, tuple[str, ...]], str]:
    flags: dict[str, str] = {}
    repeated: dict[str, tuple[str, ...]] = {}
    while rest.startswith("--"):
        word, _, remainder = rest.partition(" ")
        if word == "--":
            rest = remainder.strip()
            break
        name, eq, value = word[2:].partition("=")
        if name not in FLAGS.get(keyword, frozenset()):
            raise DockerfileError(filename, line, f"unknown flag --{name} for {keyword}")
        if (keyword, name) in _REFUSED_FLAGS:
            raise DockerfileError(filename, line, _REFUSED_FLAGS[(keyword, name)])
        if name in flags and (keyword, name) not in _REPEATABLE:
            raise DockerfileError(filename, line, f"flag --{name} is given twice")
        if name in _BOOLEAN:
            value = value.lower() if eq else "true"
            if value not in ("true", "false"):
                raise DockerfileError(filename, line, f"flag --{name} wants true or false, not {value!r}")
        elif not eq or not value:
            raise DockerfileError(filename, line, f"flag --{name} needs a value (--{name}=…)")
        flags[name] = value
        if (keyword, name) in _REPEATABLE:
            repeated[name] = (*repeated.get(name, ()), value)
        rest = remainder.strip()
    return flags, repeated, rest


def json_array(text: str) -> list[str] | None:
    """The exec form; None when the text is not a JSON array of strings (then it is shell form, as in Docker)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None
