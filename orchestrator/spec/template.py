"""Variable substitution in one string, as the Compose specification and compose-go define it.

Forms: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
`${VAR:+replacement}`, `${VAR+replacement}`; the word after the operator may itself contain
substitutions (nesting) and is only evaluated when used. `$$` is a literal `$`; a `$` that starts
no substitution is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class TemplateSyntaxError(ValueError):
    """The string holds a `${` that is not a valid substitution."""


class MissingVariableError(ValueError):
    """A `${VAR?err}` / `${VAR:?err}` variable is unset (or empty)."""

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        message = f"required variable {name} is missing a value"
        super().__init__(f"{message}: {detail}" if detail else message)


@dataclass
class Substitution:
    """Variable lookup for one file, collecting the names that were used while unset."""

    environment: Mapping[str, str]
    unset: list[str] = field(default_factory=list)

    def lookup(self, name: str) -> str | None:
        return self.environment.get(name)

    def expand(self, text: str) -> str:
        return _Parser(text, self.lookup, self.unset).parse_all()


def substitute(text: str, environment: Mapping[str, str]) -> str:
    """Expand every substitution in `text`; unset variables without a default become ""."""
    return Substitution(environment).expand(text)


class _Parser:
    def __init__(self, text: str, lookup: Callable[[str], str | None], unset: list[str]) -> None:
        self.text = text
        self.pos = 0
        self.lookup = lookup
        self.unset = unset

    def parse_all(self) -> str:
        return self._until(closing=False)

    def _until(self, closing: bool) -> str:
        """Expand text up to the end, or up to the `}` that closes the current braces."""
        parts: list[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if closing and ch == "}":
                return "".join(parts)
            if ch != "$":
                nxt = text.find("$", self.pos)
                stop = len(text) if nxt < 0 else nxt
                if closing:
                    brace = text.find("}", self.pos)
                    if 0 <= brace < stop:
                        stop = brace
                parts.append(text[self.pos:stop])
                self.pos = stop
                continue
            parts.append(self._dollar())
        if closing:
            raise TemplateSyntaxError("missing closing '}'")
        return "".join(parts)

    def _skip_until_closing(self) -> None:
        """Skip an unused word (lazy evaluation), still checking that it is well-formed."""
        depth = 0
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "$" and text.startswith("$$", self.pos):
                self.pos += 2
                continue
            if ch == "$" and text.startswith("${", self.pos):
                depth += 1
                self.pos += 2
                continue
            if ch == "}":
                if depth == 0:
                    return
                depth -= 1
            self.pos += 1
        raise TemplateSyntaxError("missing closing '}'")

    def _dollar(self) -> str:
        text = self.text
        self.pos += 1  # the "$"
        if self.pos >= len(text):
            return "$"
        ch = text[self.pos]
        if ch == "$":
            self.pos += 1
            return "$"
        if ch == "{":
            self.pos += 1
            return self._braced()
        match = _NAME.match(text, self.pos)
        if match is None:
            return "$"
        self.pos = match.end()
        return self._value(match.group(0))

    def _value(self, name: str) -> str:
        value = self.lookup(name)
        if value is None:
            self.unset.append(name)
            return ""
        return value

    def _braced(self) -> str:
        text = self.text
        match = _NAME.match(text, self.pos)
        if match is None:
            raise TemplateSyntaxError("a '${' must be followed by a variable name")
        name = match.group(0)
        self.pos = match.end()
        if self.pos >= len(text):
            raise TemplateSyntaxError("missing closing '}'")
        if text[self.pos] == "}":
            self.pos += 1
            return self._value(name)
        operator = next((op for op in _OPERATORS if text.startswith(op, self.pos)), None)
        if operator is None:
            raise TemplateSyntaxError(f"unexpected {text[self.pos]!r} after ${{{name}")
        self.pos += len(operator)
        value = self.lookup(name)
        is_set = value is not None
        is_nonempty = bool(value)
        wants_word = {
            ":-": not is_nonempty, "-": not is_set,
            ":?": not is_nonempty, "?": not is_set,
            ":+": is_nonempty, "+": is_set,
        }[operator]
        if not wants_word:
            self._skip_until_closing()
            self.pos += 1
            if operator in (":+", "+"):
                return ""
            return value or ""
        word = self._until(closing=True)
        self.pos += 1  # the "}"
        if operator in (":?", "?"):
            raise MissingVariableError(name, word)
        return word
