"""Variable substitution in one string, with Docker Compose v2's exact rules.

Forms: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
`${VAR:+replacement}`, `${VAR+replacement}`; `$$` is a literal `$`; a `$` that starts no
substitution (`$1`, `$ `) is kept; `${` without a valid name and closing brace is an error.

Compose's rules, which this follows on purpose: names are `[_a-zA-Z][_a-zA-Z0-9]*`; the text
after the operator (default, replacement or error message) may hold substitutions and is
expanded *before* the variable is looked at, so an error in it fails even when it is not used;
after a braced substitution with an operator, the rest of the match is expanded again (this is
how `${A:-${B}}` nests).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

PATTERN = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}"
    r"|(?P<invalid>)))")
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")

Lookup = Callable[[str], "str | None"]


class TemplateSyntaxError(ValueError):
    """The string holds a `${` that is not a valid substitution."""


class MissingVariableError(ValueError):
    """A `${VAR?err}` / `${VAR:?err}` variable is unset (or empty)."""

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        message = f"required variable {name} is missing a value"
        super().__init__(f"{message}: {detail}" if detail else message)


def first_closing_brace(text: str) -> int:
    """Index of the `}` that closes the first `{` (the character after each `{` is skipped)."""
    depth = 0
    i = 0
    while i < len(text):
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if text[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def _operator(text: str) -> str | None:
    found = [(text.find(op), op) for op in _OPERATORS if op in text]
    return min(found)[1] if found else None


class _Substituter:
    def __init__(self, lookup: Lookup, unset: list[str]) -> None:
        self.lookup = lookup
        self.unset = unset

    def substitute(self, template: str) -> str:
        failure: list[ValueError] = []

        def replace(match: re.Match[str]) -> str:
            try:
                return self._replacement(match.group(0))
            except (TemplateSyntaxError, MissingVariableError) as exc:
                if not failure:
                    failure.append(exc)
                return ""

        result = PATTERN.sub(replace, template)
        if failure:
            if isinstance(failure[0], TemplateSyntaxError) and not str(failure[0]):
                raise TemplateSyntaxError(f"invalid template: {template!r}")
            raise failure[0]
        return result

    def _replacement(self, substring: str) -> str:
        operator = _operator(substring)
        closing = first_closing_brace(substring)
        rest = ""
        if closing > -1:
            rest = substring[closing + 1:]
            substring = substring[:closing + 1]
        match = PATTERN.match(substring)
        groups = match.groupdict() if match else {}
        if groups.get("escaped"):
            return "$"
        name = groups.get("named") or ""
        braced = False
        if not name:
            name = groups.get("braced") or ""
            braced = True
        if not name:
            raise TemplateSyntaxError("")
        if braced and operator is not None and operator in name:
            return self._with_operator(name, operator) + self.substitute(rest)
        value = self.lookup(name)
        if value is None:
            self.unset.append(name)
            return ""
        return value

    def _with_operator(self, substitution: str, operator: str) -> str:
        name, _, word = substitution.partition(operator)
        word = self.substitute(word)
        value = self.lookup(name)
        is_set, non_empty = value is not None, bool(value)
        if operator in (":?", "?"):
            if not is_set or (operator == ":?" and not non_empty):
                raise MissingVariableError(name, word)
            return value or ""
        if operator in (":-", "-"):
            return word if not is_set or (operator == ":-" and not non_empty) else value or ""
        # ":+" / "+": the replacement when set (and non-empty for ":+"), else the value itself
        return word if is_set and (operator == "+" or non_empty) else value or ""


def substitute_with(text: str, lookup: Lookup, unset: list[str] | None = None) -> str:
    """Expand `text`, looking variables up with ``lookup`` (None: unset)."""
    return _Substituter(lookup, [] if unset is None else unset).substitute(text)


@dataclass
class Substitution:
    """Variable lookup for one file, collecting the names that were used while unset."""

    environment: Mapping[str, str]
    unset: list[str] = field(default_factory=list)

    def lookup(self, name: str) -> str | None:
        return self.environment.get(name)

    def expand(self, text: str) -> str:
        return substitute_with(text, self.lookup, self.unset)


def substitute(text: str, environment: Mapping[str, str]) -> str:
    """Expand every substitution in `text`; unset variables without a default become ""."""
    return Substitution(environment).expand(text)
