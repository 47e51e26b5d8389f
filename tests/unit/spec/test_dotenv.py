"""`.env` / `env_file` syntax (Compose specification `env_file`, compose-go dotenv fixtures)."""

from __future__ import annotations

import pytest

from orchestrator.spec.dotenv import parse_env
from orchestrator.spec.errors import ComposeError, InterpolationError


@pytest.mark.parametrize(("text", "expected"), [
    ("A=1", {"A": "1"}),
    ("A=", {"A": ""}),
    ("  A = spaced  ", {"A": "spaced"}),
    ("export A=1", {"A": "1"}),
    ("# comment\n\nA=1\n", {"A": "1"}),
    ("A=value # comment", {"A": "value"}),
    ("A=value#notcomment", {"A": "value#notcomment"}),
    ("A='single # kept'", {"A": "single # kept"}),
    ('A="double # kept"', {"A": "double # kept"}),
    ("A='lit\\n $B'", {"A": "lit\\n $B"}),
    ('A="esc\\n\\t\\\\ \\" end"', {"A": 'esc\n\t\\ " end'}),
    ('A="multi\nline"', {"A": "multi\nline"}),
    ("A='multi\nline'", {"A": "multi\nline"}),
    ("A=1\nB=${A}2", {"A": "1", "B": "12"}),
    ('A=1\nB="${A}2"', {"A": "1", "B": "12"}),
    ("A=1\nB='${A}2'", {"A": "1", "B": "${A}2"}),
    ("B=${FROM_ENV:-d}", {"B": "env"}),
    ("B=${NOPE:-d}", {"B": "d"}),
    ("FROM_ENV", {"FROM_ENV": "env"}),
    ("NOT_IN_ENV", {}),
    ("A=$$literal", {"A": "$literal"}),
    ('A="\\$literal"', {"A": "$literal"}),
    ("A=a=b=c", {"A": "a=b=c"}),
    ("A.B-C=dotted", {"A.B-C": "dotted"}),
    ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
    ("A=1\nA=2", {"A": "2"}),
])
def test_env_syntax(text: str, expected: dict[str, str]) -> None:
    assert parse_env(text, ".env", {"FROM_ENV": "env"}) == expected


def test_raw_format_keeps_dollars() -> None:
    assert parse_env("A=${X}", ".env", {"X": "1"}, interpolate=False) == {"A": "${X}"}


@pytest.mark.parametrize(("text", "line"), [
    ("A=1\n=2", 2),
    ("A=1\nB C=3", 2),
    ("A=1\nB='open", 2),
    ('A="open\nstill', 1),
])
def test_invalid_lines_name_their_line(text: str, line: int) -> None:
    with pytest.raises(ComposeError) as info:
        parse_env(text, "x.env", {})
    assert info.value.location is not None
    assert info.value.location.file == "x.env"
    assert info.value.location.line == line


def test_required_variable_in_env_file() -> None:
    with pytest.raises(InterpolationError, match="required variable X"):
        parse_env("\nA=${X?}", "x.env", {})


def test_raw_format_double_quoted_dollar() -> None:
    assert parse_env('A="\\$X"', ".env", {}, interpolate=False) == {"A": "$X"}
