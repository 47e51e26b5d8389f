"""Attached `up` waits for a container the engine will restart, and the engine's rule decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.cli.attached import finished, will_restart
from orchestrator.engine.restart_policy import restart_of
from orchestrator.spec import LoadOptions, Project, load_project

SERVICES = {
    "plain": "{image: busybox}",
    "no": "{image: busybox, restart: 'no'}",
    "always": "{image: busybox, restart: always}",
    "on_failure": "{image: busybox, restart: 'on-failure:3'}",
    "unless": "{image: busybox, restart: unless-stopped}",
    "swarm_any": "{image: busybox, deploy: {restart_policy: {}}}",
    "swarm_none": "{image: busybox, restart: always, deploy: {restart_policy: {condition: none}}}",
    "swarm_failure": "{image: busybox, deploy: {restart_policy: {condition: on-failure}}}",
}


def load(tmp_path: Path) -> Project:
    lines = ["name: demo", "services:"] + [f"  {name}: {body}" for name, body in SERVICES.items()]
    (tmp_path / "compose.yaml").write_text("\n".join(lines) + "\n")
    return load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path, environ={}))


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_cli_expects_a_restart_exactly_when_the_engine_makes_one(tmp_path: Path, service: str) -> None:
    project = load(tmp_path)
    assert will_restart(project, {"service": service}) == restart_of(project.services[service]).restarts


def test_the_project_is_finished_when_nothing_will_restart(tmp_path: Path) -> None:
    project = load(tmp_path)
    exited = {"status": "exited"}
    assert finished(project, [{**exited, "service": "plain"}, {**exited, "service": "swarm_none"}])
    assert not finished(project, [{**exited, "service": "plain"}, {**exited, "service": "always"}])
    assert not finished(project, [])
