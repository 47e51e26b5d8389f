"""Dockerfile words: quotes, the escape character and ``$VAR`` substitution, as Docker's shell lexer does.

Docker substitutes variables in the arguments of ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL,
USER, VOLUME and WORKDIR (never in RUN, CMD or ENTRYPOINT: the shell in the container does that).
Supported forms: ``$name``, ``${name}``, ``${name:-word}`` / ``${name-word}`` (default when unset or
empty / when unset), ``${name:+word}`` / ``${name+word}`` (alternative when set and non-empty / when
set) and ``${name:?message}`` / ``${name?message}`` (an error). Single quotes keep everything
literal, double quotes keep spaces but still substitute; the escape character (``\\`` or a
backtick after ``# escape=```) makes the next character literal. Substituted values are never
split into several words.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class WordError(ValueError):
    """A word cannot be expanded: an unclosed quote or brace, or ``${name:?}`` of an unset variable."""


def split_raw(text: str, escape: str = "\\") -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes (for ``key=value`` parsing)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    in_word = False
    while i < len(text):
        ch = text[i]
        if ch == escape and quote != "'" and i + 1 < len(text):
            current += [ch, text[i + 1]]
            in_word = True
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            i += 1
            continue
        current.append(ch)
        in_word = True
        i += 1
    if quote:
        raise WordError(f"unterminated {quote} quote in {text!r}")
    if in_word:
        words.append("".join(current))
    return words


def expand(word: str, env: dict[str, str], escape: str = "\\") -> str:
    """One word with quotes removed and variables substituted."""
    words = _Lexer(word, env, escape).run(split=False)
    return words[0] if words else ""


def expand_heredoc(text: str, env: dict[str, str], escape: str = "\\") -> str:
    """A heredoc body with an unquoted delimiter: variables substituted, quotes kept as they are."""
    return _Lexer(text, env, escape).substitute()


def expand_words(text: str, env: dict[str, str], escape: str = "\\") -> list[str]:
    """Several words (split on unquoted whitespace), each with quotes removed and variables substituted."""
    return _Lexer(text, env, escape).run(split=True)


class _Lexer:
    def __init__(self, text: str, env: dict[str, str], escape: str) -> None:
        self.text = text
        self.env = env
        self.escape = escape
        self.pos = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        ch = self._peek()
        self.pos += 1
        return ch

    def run(self, split: bool) -> list[str]:
        words: list[str] = []
        current: list[str] = []
        started = False
        while self.pos < len(self.text):
            ch = self._next()
            if split and ch.isspace():
                if started:
                    words.append("".join(current))
                    current, started = [], False
                continue
            started = True
            if ch == self.escape:
                if self.pos < len(self.text):
                    current.append(self._next())
            elif ch == "'":
                current.append(self._single_quoted())
            elif ch == '"':
                current.append(self._double_quoted())
            elif ch == "$":
                current.append(self._dollar())
            else:
                current.append(ch)
        if started:
            words.append("".join(current))
        return words

    def substitute(self) -> str:
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self._next()
            if ch == self.escape and self._peek() in ("$", self.escape) and self._peek():
                out.append(self._next())
            elif ch == "$":
                out.append(self._dollar())
            else:
                out.append(ch)
        return "".join(out)

    def _single_quoted(self) -> str:
        end = self.text.find("'", self.pos)
        if end < 0:
            raise WordError(f"unterminated ' quote in {self.text!r}")
        value = self.text[self.pos:end]
        self.pos = end + 1
        return value

    def _double_quoted(self) -> str:
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise WordError(f'unterminated " quote in {self.text!r}')
            ch = self._next()
            if ch == '"':
                return "".join(out)
            if ch == self.escape and self._peek() in ('"', "$", self.escape) and self._peek():
                out.append(self._next())
            elif ch == "$":
                out.append(self._dollar())
            else:
                out.append(ch)

    def _dollar(self) -> str:
        if self._peek() == "{":
            self.pos += 1
            return self._braced()
        match = _NAME.match(self.text, self.pos)
        if not match:
            return "$"
        self.pos = match.end()
        return self.env.get(match.group(), "")

    def _braced(self) -> str:
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise WordError(f"bad substitution in {self.text!r}: want ${{name}}")
        name = match.group()
        self.pos = match.end()
        ch = self._next()
        if not ch:
            raise WordError(f"unterminated ${{…}} in {self.text!r}")
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        if colon:
            ch = self._next()
        if ch not in ("-", "+", "?"):
            raise WordError(f"bad substitution ${{{name}{':' if colon else ''}{ch}…}} in {self.text!r}: "
                            "supported are ${name:-word}, ${name:+word}, ${name:?message} and the forms without ':'")
        word = self._until_brace()
        value = self.env.get(name)
        is_set = value is not None and (bool(value) or not colon)
        if ch == "-":
            return value if is_set and value is not None else word
        if ch == "+":
            return word if is_set else ""
        if not is_set or value is None:
            raise WordError(f"{name}: {word or 'is not set'}")
        return value

    def _until_brace(self) -> str:
        """The word inside ``${name:-…}``: may itself hold quotes and substitutions, up to the matching brace."""
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise WordError(f"unterminated ${{…}} in {self.text!r}")
            ch = self._next()
            if ch == "}":
                return "".join(out)
            if ch == self.escape and self.pos < len(self.text):
                out.append(self._next())
            elif ch == "'":
                out.append(self._single_quoted())
            elif ch == '"':
                out.append(self._double_quoted())
            elif ch == "$":
                out.append(self._dollar())
            else:
                out.append(ch)
