"""The part of Docker's `--format` templates that scripts use: `{{.Field}}`, `{{json .}}`, `table …`.

Docker formats with Go templates; what people put in `--format` is nearly always a list of
fields, optionally after `table` (a header row and aligned columns). That subset is parsed here;
anything else in `{{ }}` is refused with a clear message rather than guessed at. As in Docker,
a literal `\\t` or `\\n` typed in the shell becomes a tab or a newline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.errors import PyorchError

_ACTION = re.compile(r"\{\{(.*?)\}\}")
_FIELD = re.compile(r"\s*\.(\w+)\s*")
_JSON_DOT = re.compile(r"\s*json\s+\.\s*")
COLUMN_GAP = 3  # spaces between table columns (Docker's tabwriter padding)


@dataclass(frozen=True)
class Template:
    table: bool
    parts: tuple[str | None, ...]   # text, or None for "the next field"
    fields: tuple[str, ...]         # "" stands for `json .`


def parse(text: str, known: Sequence[str]) -> Template:
    """A template over the fields ``known``; a PyorchError names what is wrong."""
    table = text.startswith("table")
    body = text[len("table"):].strip() if table else text
    body = body.replace("\\t", "\t").replace("\\n", "\n")
    parts: list[str | None] = []
    fields: list[str] = []
    position = 0
    for match in _ACTION.finditer(body):
        parts.append(body[position:match.start()])
        position = match.end()
        action = match.group(1)
        field = _FIELD.fullmatch(action)
        if field is not None:
            if field.group(1) not in known:
                raise PyorchError(f"template: can't evaluate field {field.group(1)}; "
                                  f"fields are {', '.join('.' + k for k in known)}")
            fields.append(field.group(1))
        elif _JSON_DOT.fullmatch(action):
            fields.append("")
        else:
            raise PyorchError(f"template {{{{{action}}}}} is not supported: use {{{{.Field}}}} or {{{{json .}}}}")
        parts.append(None)
    parts.append(body[position:])
    if "{{" in body[position:] or "}}" in body[position:]:
        raise PyorchError(f"template {text!r}: unclosed {{{{")
    return Template(table, tuple(parts), tuple(fields))


def render_row(template: Template, row: Mapping[str, str]) -> str:
    values = iter(template.fields)
    out = []
    for part in template.parts:
        if part is not None:
            out.append(part)
            continue
        field = next(values)
        out.append(json.dumps(dict(row), separators=(",", ":")) if field == "" else row[field])
    return "".join(out)


def render(template: Template, rows: Sequence[Mapping[str, str]], headers: Mapping[str, str]) -> list[str]:
    """Output lines: one per row, or for `table` a header row and columns aligned at the tabs."""
    lines = [render_row(template, row) for row in rows]
    if not template.table:
        return lines
    header = render_row(template, {f: headers.get(f, f.upper()) for f in template.fields if f})
    return align([header, *lines])


def align(lines: Sequence[str]) -> list[str]:
    """Tab-separated cells padded to the widest of each column, as a tabwriter does."""
    cells = [line.split("\t") for line in lines]
    widths: list[int] = []
    for row in cells:
        for i, cell in enumerate(row[:-1]):
            if i == len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(cell))
    return ["".join(cell.ljust(widths[i] + COLUMN_GAP) for i, cell in enumerate(row[:-1])) + row[-1]
            for row in cells]
