"""`.env` / `env_file` syntax, as Docker Compose v2 reads it (compose-go's dotenv parser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.spec.dotenv import parse_env, read_raw_env
from orchestrator.spec.errors import ComposeError, InterpolationError

SHELL = {"FROM_ENV": "env", "A": "shell"}


@pytest.mark.parametrize(("text", "expected"), [
    ("B=1", {"B": "1"}),
    ("B=", {"B": ""}),
    ("  B = spaced  ", {"B": "spaced"}),
    ("export B=1", {"B": "1"}),
    ("B: yaml-style", {"B": "yaml-style"}),
    ("# comment\n\nB=1\n", {"B": "1"}),
    ("B=value # comment", {"B": "value"}),
    ("B=value#notcomment", {"B": "value#notcomment"}),
    ("B=value\t# tab is not a comment start", {"B": "value\t# tab is not a comment start"}),
    ("B='single # kept'", {"B": "single # kept"}),
    ('B="double # kept"', {"B": "double # kept"}),
    ("B='lit\\n $C'", {"B": "lit\\n $C"}),
    ("B='it\\'s'", {"B": "it's"}),
    ('B="esc\\n\\t\\\\ \\" end"', {"B": 'esc\n\t\\ " end'}),
    ('B="octal \\0101"', {"B": "octal A"}),
    ('B="multi\nline"', {"B": "multi\nline"}),
    ("B='multi\nline'", {"B": "multi\nline"}),
    ("C=1\nB=${C}2", {"C": "1", "B": "12"}),
    ('C=1\nB="${C}2"', {"C": "1", "B": "12"}),
    ("C=1\nB='${C}2'", {"C": "1", "B": "${C}2"}),
    # The lookup (the shell, for .env) wins over a value the file set earlier.
    ("A=file\nB=${A}", {"A": "file", "B": "shell"}),
    ("B=${FROM_ENV:-d}", {"B": "env"}),
    ("B=${NOPE:-d}", {"B": "d"}),
    ("FROM_ENV\n", {"FROM_ENV": "env"}),
    ("NOT_IN_ENV\n", {}),
    # A bare key on the last line without a line break: Compose reads a value for an empty key.
    ("B=1\nFROM_ENV", {"B": "1", "": "FROM_ENV"}),
    ("B=$$literal", {"B": "$literal"}),
    ('B="\\$literal"', {"B": "$literal"}),
    ("B=a=b=c", {"B": "a=b=c"}),
    ("B.C-D[0]=dotted", {"B.C-D[0]": "dotted"}),
    ("B=1\r\nC=2\r\n", {"B": "1", "C": "2"}),
    ("B=1\nB=2", {"B": "2"}),
])
def test_env_syntax(text: str, expected: dict[str, str]) -> None:
    assert parse_env(text, ".env", SHELL.get) == expected


@pytest.mark.parametrize(("text", "line"), [
    ("A=1\nB C=3", 2),
    ("A=1\nB='open", 2),
    ('A="open\nstill', 1),
    ("A=1\n\nB$=2", 3),
])
def test_invalid_lines_name_their_line(text: str, line: int) -> None:
    with pytest.raises(ComposeError) as info:
        parse_env(text, "x.env")
    assert info.value.location is not None
    assert info.value.location.file == "x.env"
    assert info.value.location.line == line


def test_required_variable_in_env_file() -> None:
    with pytest.raises(InterpolationError, match="required variable X") as info:
        parse_env("\nA=${X?}", "x.env")
    assert info.value.location is not None and info.value.location.line == 2


def test_raw_format_keeps_values_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "raw.env"
    path.write_text("# comment\nA=\"quoted ${X}\"\nB='x'\nC=  spaced\nFROM_ENV\nMISSING\n")
    assert read_raw_env(path, SHELL.get) == {"A": '"quoted ${X}"', "B": "'x'", "C": "  spaced",
                                             "FROM_ENV": "env"}


def test_raw_format_refuses_a_key_with_a_space(tmp_path: Path) -> None:
    path = tmp_path / "raw.env"
    path.write_text("OK=1\nBAD KEY=2\n")
    with pytest.raises(ComposeError, match="whitespaces") as info:
        read_raw_env(path)
    assert info.value.location is not None and info.value.location.line == 2
