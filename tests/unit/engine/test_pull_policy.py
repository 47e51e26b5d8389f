"""Compose pull_policy: parsing and the pull decision (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.pull_policy import PullPolicy, effective_policy, parse_policy, should_pull
from orchestrator.errors import EngineError
from orchestrator.spec import ComposeError, LoadOptions, load_project

DAY = 86400.0


@pytest.mark.parametrize("text, policy", [
    (None, PullPolicy("missing")), ("missing", PullPolicy("missing")), ("if_not_present", PullPolicy("missing")),
    ("always", PullPolicy("always")), ("refresh", PullPolicy("always")), ("never", PullPolicy("never")),
    ("build", PullPolicy("build")), ("daily", PullPolicy("periodic", DAY)), ("weekly", PullPolicy("periodic", 7 * DAY)),
    ("every_12h", PullPolicy("periodic", 12 * 3600)), ("every_30m", PullPolicy("periodic", 1800)),
    ("every_2d", PullPolicy("periodic", 2 * DAY)), ("every_1w", PullPolicy("periodic", 7 * DAY)),
    ("every_1h30m", PullPolicy("periodic", 5400)), ("every_1d12h", PullPolicy("periodic", 1.5 * DAY)),
])
def test_policies_parse(text: str | None, policy: PullPolicy) -> None:
    assert parse_policy(text) == policy


@pytest.mark.parametrize("text", ["sometimes", "every_", "every_0h", "every_5parsecs", "every_h", "every_1h30"])
def test_bad_policies_are_refused(text: str) -> None:
    with pytest.raises(EngineError, match="invalid pull_policy"):
        parse_policy(text)


def test_pull_decisions() -> None:
    now = 1_000_000.0
    periodic = PullPolicy("periodic", DAY)
    cases = [
        (PullPolicy("always"), True, now, True), (PullPolicy("missing"), True, None, False),
        (PullPolicy("missing"), False, None, True), (PullPolicy("never"), False, None, False),
        (PullPolicy("build"), False, None, False),
        (periodic, True, now - DAY + 1, False), (periodic, True, now - DAY, True),
        (periodic, True, None, True), (periodic, False, now, True),
    ]
    for policy, present, last, expected in cases:
        assert should_pull(policy, present, last, now) is expected, (policy, present, last)


def test_command_line_override_wins() -> None:
    assert effective_policy("never", "always") == PullPolicy("always")
    assert effective_policy("daily", None) == PullPolicy("periodic", DAY)
    with pytest.raises(EngineError, match="--pull"):
        effective_policy(None, "daily")


def test_the_compose_loader_refuses_what_the_engine_cannot_parse(tmp_path: Path) -> None:
    """A bad pull_policy is reported with its file and line by the loader, before the engine sees it."""
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  app:\n    image: busybox\n    pull_policy: every_fortnight\n")
    with pytest.raises(ComposeError, match=r"compose\.yaml:4.*pull_policy"):
        load_project(LoadOptions(files=[compose], working_dir=tmp_path, environ={}))
    compose.write_text("services:\n  app:\n    image: busybox\n    pull_policy: every_1h30m\n")
    project = load_project(LoadOptions(files=[compose], working_dir=tmp_path, environ={}))
    assert parse_policy(project.services["app"].pull_policy) == PullPolicy("periodic", 5400)
