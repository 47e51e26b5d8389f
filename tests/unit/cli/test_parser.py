"""A command builds only its verb's parser (`build_parser(verb_of(argv))`); it must parse every
command line exactly as the parser of every verb does."""

from __future__ import annotations

import argparse

import pytest

from orchestrator.cli.main import build_parser, verb_of


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_each_verbs_own_parser_has_the_verb_as_the_full_parser_has_it() -> None:
    full = _subparsers(build_parser())
    for verb, parser in full.items():
        own = _subparsers(build_parser(verb))
        assert verb in own, f"build_parser({verb!r}) lacks {verb!r}: add it to _VERB_MODULES"
        assert own[verb].format_help() == parser.format_help()


@pytest.mark.parametrize(("argv", "verb"), [
    (["-f", "x.yaml", "up", "-d"], "up"),
    (["--file=x.yaml", "-pname", "ps", "-a"], "ps"),
    (["-f", "up", "down"], "down"),                    # "up" is -f's value
    (["--profile", "debug", "--progress", "plain", "build"], "build"),
    (["--help"], None),
    (["--proj", "x", "up"], None),                     # an abbreviation: the full parser decides
    (["-x", "up"], None),
    ([], None),
])
def test_verb_of(argv: list[str], verb: str | None) -> None:
    assert verb_of(argv) == verb


@pytest.mark.parametrize("argv", [
    ["-f", "a.yaml", "-f", "b.yaml", "up", "-d", "--scale", "web=3", "web"],
    ["-p", "shop", "down", "-v", "--rmi", "local"],
    ["--project-n", "shop", "ps", "-q"],
    ["image", "build", "-t", "x:1", "."],
    ["image", "ls"],
    ["exec", "-T", "web", "sh", "-c", "true"],
    ["run", "--rm", "web", "echo", "hi"],
    ["volume", "list"],
    ["dash"],
    ["rollout", "status"],
])
def test_a_verbs_own_parser_parses_as_the_full_parser(argv: list[str]) -> None:
    def parsed(parser: argparse.ArgumentParser) -> dict[str, object]:
        return {k: v for k, v in vars(parser.parse_args(argv)).items() if k != "run"}

    assert parsed(build_parser(verb_of(argv))) == parsed(build_parser())
