"""`.env` and `env_file` syntax, read as Docker Compose v2 reads it.

A statement is `[export ]KEY=VALUE` (or `KEY: VALUE`); a key alone on its line takes its value
from the lookup (and is left out when the lookup has none). Keys are letters, digits and
`_ . - [ ]`. Unquoted values end at the line's end, lose a ` #` comment and trailing blanks.
Single and double quotes may span lines; a backslash before the quote keeps the quote; double
quotes understand `\\n \\t \\r \\f \\v \\a \\b \\\\ \\" \\$` and octal `\\0NNN`. Unquoted and
double-quoted values are interpolated: a variable is looked up first in the given lookup (the
process environment for `.env`, so the shell wins), then among the values already read.

`format: raw` (`read_raw_env`) is Docker's `--env-file` syntax instead: `KEY=VALUE` kept verbatim,
quotes included, nothing interpolated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from orchestrator.spec.errors import ComposeError, ComposeFileNotFound, InterpolationError, Location
from orchestrator.spec.template import MissingVariableError, TemplateSyntaxError, substitute_with

Lookup = Callable[[str], "str | None"]

_SPACES = "\t\v\f\r \x85\xa0"  # blanks that are not line breaks
_EXPORT = re.compile(r"^export\s+")
_ESCAPE = re.compile(r'\\(?:[abcfnrtv$"\\]|0\d{0,3})')
_ESCAPED_CHARS = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"',
                  "\\": "\\"}


def no_lookup(name: str) -> str | None:
    return None


def read_env_file(path: Path, lookup: Lookup = no_lookup, into: dict[str, str] | None = None,
                  label: str | None = None) -> dict[str, str]:
    """Parse an env file into ``into`` (values read so far, also used for interpolation)."""
    return parse_env(_read(path), label or str(path), lookup, into)


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ComposeFileNotFound(f"cannot read env file {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ComposeError(f"invalid UTF-8 in env file (byte 0x{data[exc.start]:02x})",
                           Location(str(path), line, exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1)) from None


def parse_env(text: str, source: str, lookup: Lookup = no_lookup,
              into: dict[str, str] | None = None) -> dict[str, str]:
    """Parse env-file text; returns ``into`` (a new dict when None) with the keys it defines."""
    return _Parser(text, source, lookup, {} if into is None else into).parse()


class _Parser:
    def __init__(self, text: str, source: str, lookup: Lookup, out: dict[str, str]) -> None:
        self.text = text
        self.source = source
        self.lookup = lookup
        self.out = out
        self.line = 1

    def _where(self) -> Location:
        return Location(self.source, self.line, 1)

    def parse(self) -> dict[str, str]:
        rest = self.text
        while True:
            rest = self._statement_start(rest)
            if not rest:
                return self.out
            key, rest, inherited = self._key(rest)
            if " " in key:
                raise ComposeError(f"invalid key {key!r} in env file: a key cannot contain a space", self._where())
            if inherited:
                value = self.lookup(key)
                if value is not None:
                    self.out[key] = value
                continue
            value, rest = self._value(rest)
            self.out[key] = value

    def _statement_start(self, text: str) -> str:
        """Skip blank lines and comment lines, counting line breaks."""
        while True:
            stripped = text.lstrip(_SPACES + "\n")
            self.line += text[:len(text) - len(stripped)].count("\n")
            if not stripped.startswith("#"):
                return stripped
            newline = stripped.find("\n")
            if newline < 0:
                return ""
            text = stripped[newline:]

    def _key(self, text: str) -> tuple[str, str, bool]:
        if _EXPORT.match(text):
            text = text[len("export"):].lstrip(_SPACES)
        for index, char in enumerate(text):
            if char in _SPACES:
                continue
            if char in "=:\n":
                inherited = char == "\n"
                key = text[:index].rstrip()
                if inherited and " " not in key:
                    self.line += 1
                return key, text[index + 1:].lstrip(_SPACES), inherited
            if char in "_.-[]" or char.isalnum():
                continue
            first_line = text.split("\n", 1)[0]
            raise ComposeError(f"unexpected character {char!r} in variable name {first_line!r}", self._where())
        # A key alone on the last line, without a line break: Compose reads it as an empty key.
        return "", text, False

    def _value(self, text: str) -> tuple[str, str]:
        start_line = self.line
        if not text or text[0] not in "'\"":
            line, _, rest = text.partition("\n")
            self.line += 1
            value = line.split(" #", 1)[0].rstrip()
            return self._expand(value, start_line), rest
        quote = text[0]
        chars: list[str] = []
        escaped = False
        for index in range(1, len(text)):
            char = text[index]
            if char == "\n":
                self.line += 1
            if char != quote:
                if not escaped and char == "\\":
                    escaped = True
                    continue
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(char)
                continue
            if escaped:
                escaped = False
                chars.append(char)
                continue
            value = "".join(chars)
            if quote == '"':
                value = self._expand(_unescape(value), start_line)
            return value, text[index + 1:]
        first_line = text.split("\n", 1)[0]
        raise ComposeError(f"unterminated quoted value {first_line}", Location(self.source, start_line, 1))

    def _expand(self, value: str, line: int) -> str:
        def lookup(name: str) -> str | None:
            found = self.lookup(name)
            return found if found is not None else self.out.get(name)

        try:
            return substitute_with(value, lookup)
        except MissingVariableError as exc:
            raise InterpolationError(str(exc), Location(self.source, line, 1)) from exc
        except TemplateSyntaxError as exc:
            raise InterpolationError(f"invalid interpolation: {exc}", Location(self.source, line, 1)) from exc


def _unescape(value: str) -> str:
    """Double-quote escapes; `\\$` becomes `$$` so that interpolation leaves a `$`."""
    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "\\$":
            return "$$"
        if text.startswith("\\0"):
            digits = text[2:]  # Go reads `\0NNN` as the octal escape `\NNN`: exactly three digits
            valid = len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256
            return chr(int(digits, 8)) if valid else text
        return _ESCAPED_CHARS.get(text[1], text)

    return _ESCAPE.sub(replace, value)


def read_raw_env(path: Path, lookup: Lookup = no_lookup, into: dict[str, str] | None = None) -> dict[str, str]:
    """`format: raw`: Docker's env-file syntax, every value verbatim (quotes kept, nothing expanded)."""
    out = {} if into is None else into
    for number, raw in enumerate(_read(path).splitlines(), start=1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, has_value, value = line.partition("=")
        key = key.lstrip(" \t")
        where = Location(str(path), number, 1)
        if any(c in key for c in " \t"):
            raise ComposeError(f"variable {key!r} contains whitespaces", where)
        if not key:
            raise ComposeError(f"no variable name on line {line!r}", where)
        if has_value:
            out[key] = value
        else:
            found = lookup(line)
            if found is not None:
                out[key.strip()] = found
    return out
