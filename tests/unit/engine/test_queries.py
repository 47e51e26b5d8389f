"""What the engine's queries say for clients to act on, so that they keep no copy of its rules."""

from __future__ import annotations

import pytest

from orchestrator.engine.project_ops import UpOptions
from orchestrator.planner.restart_policy import restart_of
from tests.unit.engine.fakes import build

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


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    h = build(tmp_path_factory.mktemp("queries"))
    text = "\n".join(["name: demo", "services:"] + [f"  {name}: {body}" for name, body in SERVICES.items()])
    h.engine.ops.up(h.project(text + "\n"), UpOptions())
    project = h.engine.loader.load("demo")
    assert project is not None
    return {str(r["service"]): {**r, "expected": restart_of(project.project.services[str(r["service"])]).restarts}
            for r in h.engine.queries.ps("demo")}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_ps_rows_say_whether_the_engine_restarts_the_container(rows: dict[str, dict[str, object]],
                                                               service: str) -> None:
    assert rows[service]["restarts_on_exit"] == rows[service]["expected"]


def test_the_rule_is_not_trivially_one_answer(rows: dict[str, dict[str, object]]) -> None:
    assert {r["restarts_on_exit"] for r in rows.values()} == {True, False}
