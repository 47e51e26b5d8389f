"""Every verb of the CLI has a row in docs/cli.md (the reference stays true as verbs are added)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from orchestrator.cli.main import build_parser

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def _verbs(parser: argparse.ArgumentParser) -> set[str]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name for action in actions for name in action.choices}


def test_every_verb_is_in_the_cli_reference() -> None:
    parser = build_parser()
    verbs = _verbs(parser)
    assert {"up", "down", "ps", "logs", "exec", "pause", "build", "pull"} <= verbs
    documented = set(re.findall(r"`([a-z][a-z-]*)", DOC.read_text()))
    missing = sorted(v for v in verbs if v not in documented)
    assert missing == [], f"verbs without a row in docs/cli.md: {missing}"
