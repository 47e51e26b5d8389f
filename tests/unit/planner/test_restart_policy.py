"""Which policy a service gets: Compose v2 lets deploy.restart_policy win over restart:."""

from __future__ import annotations

from pathlib import Path

from orchestrator.planner.restart_policy import restart_of
from orchestrator.spec import LoadOptions, Project, load_project


def load(tmp_path: Path, text: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path, environ={}))


def test_restart_key_alone_uses_dockers_manager(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  a:\n    image: x\n    restart: on-failure:3\n  b:\n    image: x\n")
    a, b = restart_of(project.services["a"]), restart_of(project.services["b"])
    assert (a.docker, a.swarm, a.restarts) == ("on-failure:3", None, True)
    assert (b.docker, b.swarm, b.restarts) == ("no", None, False)


def test_deploy_restart_policy_wins_and_keeps_delay_and_window(tmp_path: Path) -> None:
    project = load(tmp_path, """services:
  a:
    image: x
    restart: always
    deploy:
      restart_policy: {condition: on-failure, delay: 2s, max_attempts: 4, window: 1m}
""")
    policy = restart_of(project.services["a"])
    assert policy.docker == "no"
    assert policy.swarm is not None
    assert (policy.swarm.condition, policy.swarm.delay, policy.swarm.max_attempts, policy.swarm.window) == (
        "on-failure", 2.0, 4, 60.0)


def test_empty_restart_policy_means_swarm_defaults(tmp_path: Path) -> None:
    project = load(tmp_path, "services:\n  a:\n    image: x\n    deploy:\n      restart_policy: {}\n")
    policy = restart_of(project.services["a"])
    assert policy.swarm is not None and (policy.swarm.condition, policy.swarm.delay) == ("any", 5.0)
    none = load(tmp_path, "services:\n  a:\n    image: x\n    deploy:\n      restart_policy: {condition: none}\n")
    assert not restart_of(none.services["a"]).restarts
