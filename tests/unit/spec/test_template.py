"""Interpolation, case by case from the specification (12-interpolation.md) and compose-go's table."""

from __future__ import annotations

import pytest

from orchestrator.spec.template import MissingVariableError, Substitution, TemplateSyntaxError, substitute

ENV = {"FOO": "first", "BAR": "", "JSON": '{"json":2}', "INNER": "in", "DOLLAR": "$"}


@pytest.mark.parametrize(("template", "expected"), [
    ("plain", "plain"),
    ("$FOO", "first"),
    ("${FOO}", "first"),
    ("x${FOO}y", "xfirsty"),
    ("$FOO-suffix", "first-suffix"),
    ("$$FOO", "$FOO"),
    ("$${FOO}", "${FOO}"),
    ("a $ string", "a $ string"),
    ("^REGEX$", "^REGEX$"),
    ("$}", "$}"),
    ("$", "$"),
    ("$1", "$1"),
    ("${UNSET}", ""),
    ("$UNSET", ""),
    # :- unset or empty → default; - only unset
    ("${UNSET:-default}", "default"),
    ("${BAR:-default}", "default"),
    ("${FOO:-default}", "first"),
    ("${UNSET-default}", "default"),
    ("${BAR-default}", ""),
    ("${FOO-default}", "first"),
    # :+ set and non-empty → replacement; + set → replacement
    ("${FOO:+alt}", "alt"),
    ("${BAR:+alt}", ""),
    ("${UNSET:+alt}", ""),
    ("${FOO+alt}", "alt"),
    ("${BAR+alt}", "alt"),
    ("${UNSET+alt}", ""),
    # ?: set → value
    ("${FOO:?must}", "first"),
    ("${FOO?must}", "first"),
    ("${BAR?must}", ""),
    # nesting
    ("${UNSET:-${FOO}}", "first"),
    ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
    ("${UNSET:-$INNER-x}", "in-x"),
    ("${FOO:+${INNER}!}", "in!"),
    ("${UNSET:-a}${UNSET:-b}", "ab"),
    ("${UNSET:-{json}}", "{json}"),   # the first } closes the braces; the second is text
    ("${JSON}", '{"json":2}'),
    ("${UNSET:-}", ""),
    ("${UNSET:-$$}", "$"),
    ("${DOLLAR}FOO", "$FOO"),   # substituted text is not expanded again
    ("${FOO:-a} and ${UNSET:-b}", "first and b"),
    ("$FOO$FOO", "firstfirst"),
])
def test_substitution(template: str, expected: str) -> None:
    assert substitute(template, ENV) == expected


@pytest.mark.parametrize("template", ["${", "${}", "${ foo}", "${foo!}", "${FOO", "${FOO:-x", "${1abc}", "${FOO/a/b}"])
def test_invalid_templates_are_refused(template: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        substitute(template, ENV)


@pytest.mark.parametrize(("template", "message"), [
    ("${UNSET:?is required}", "required variable UNSET is missing a value: is required"),
    ("${UNSET?is required}", "required variable UNSET is missing a value: is required"),
    ("${BAR:?empty is not ok}", "required variable BAR is missing a value: empty is not ok"),
    ("${UNSET?}", "required variable UNSET is missing a value"),
    ("${UNSET:?$FOO here}", "required variable UNSET is missing a value: first here"),
    # As in Compose, the word after the operator is expanded first, even when it is not used.
    ("${FOO:-${MISSING?boom}}", "required variable MISSING is missing a value: boom"),
    ("${BAR:+${MISSING?boom}}", "required variable MISSING is missing a value: boom"),
])
def test_required_variables(template: str, message: str) -> None:
    with pytest.raises(MissingVariableError) as info:
        substitute(template, ENV)
    assert str(info.value) == message
    assert info.value.name in template


def test_unset_variables_are_reported_once_used() -> None:
    substitution = Substitution(ENV)
    substitution.expand("${A} $B ${C:-x} ${FOO}")
    assert substitution.unset == ["A", "B"]
