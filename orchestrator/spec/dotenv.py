"""`.env` and `env_file` syntax: `[export ]KEY[=VALUE]`, comments, quotes, escapes, substitution.

Rules (Compose specification, `env_file`): `#` starts a comment; an inline comment needs a space
before it when the value is unquoted; single quotes are literal; double quotes understand
`\\n \\r \\t \\\\ \\" \\$` and may span lines; unquoted and double-quoted values are interpolated with
the keys defined earlier in the file, then the given environment; `KEY=` is the empty string;
a bare `KEY` takes its value from the environment and is left out when the environment has none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from orchestrator.spec.errors import ComposeError, ComposeFileNotFound, InterpolationError, Location
from orchestrator.spec.template import MissingVariableError, Substitution, TemplateSyntaxError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_DOUBLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$$"}


def read_env_file(path: Path, environment: Mapping[str, str], interpolate: bool = True) -> dict[str, str | None]:
    """Parse an env file; raise ComposeFileNotFound when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeFileNotFound(f"cannot read env file {path}: {exc}") from exc
    return parse_env(text, str(path), environment, interpolate)


def parse_env(text: str, source: str, environment: Mapping[str, str],
              interpolate: bool = True) -> dict[str, str | None]:
    """Parse env-file text; values may refer to earlier keys and to `environment`."""
    result: dict[str, str | None] = {}
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = 0
    while index < len(lines):
        line_no = index + 1
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[len("export"):].strip()
        match = _KEY.match(line)
        where = Location(source, line_no, 1)
        if match is None:
            raise ComposeError(f"invalid line in env file: {lines[index - 1]!r}", where)
        key = match.group(0)
        rest = line[match.end():]
        if rest.strip() == "" or rest.lstrip().startswith("#"):
            if key in environment:
                result[key] = environment[key]
            continue
        if not rest.lstrip(" \t").startswith("="):
            raise ComposeError(f"invalid key {line.split()[0]!r} in env file (expected KEY=VALUE)", where)
        raw = rest.lstrip(" \t")[1:].lstrip(" \t")
        if raw.startswith("'") or raw.startswith('"'):
            quote = raw[0]
            body = raw[1:]
            while not _closes(body, quote):
                if index >= len(lines):
                    raise ComposeError(f"unterminated {quote} quote for {key}", where)
                body += "\n" + lines[index]
                index += 1
            content = body[: _closing_index(body, quote)]
            if quote == "'":
                result[key] = content
                continue
            value = _unescape_double(content, keep_dollar_escape=interpolate)
        else:
            value = re.split(r"\s#", raw, maxsplit=1)[0].rstrip()
        if interpolate:
            value = _expand(value, key, result, environment, where)
        result[key] = value
    return result


def _closes(body: str, quote: str) -> bool:
    return _closing_index(body, quote) >= 0


def _closing_index(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if quote == '"' and body[i] == "\\":
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _unescape_double(content: str, keep_dollar_escape: bool) -> str:
    """Double-quote escapes; `\\$` becomes `$$` when the value is interpolated next (so it stays a `$`)."""
    out: list[str] = []
    i = 0
    while i < len(content):
        ch = content[i]
        if ch == "\\" and i + 1 < len(content) and content[i + 1] in _DOUBLE_ESCAPES:
            escaped = content[i + 1]
            out.append("$" if escaped == "$" and not keep_dollar_escape else _DOUBLE_ESCAPES[escaped])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _expand(value: str, key: str, earlier: Mapping[str, str | None], environment: Mapping[str, str],
            where: Location) -> str:
    scope = {**environment, **{k: v for k, v in earlier.items() if v is not None}}
    try:
        return Substitution(scope).expand(value)
    except MissingVariableError as exc:
        raise InterpolationError(str(exc), where) from exc
    except TemplateSyntaxError as exc:
        raise InterpolationError(f"invalid interpolation in {key}: {exc}", where) from exc
