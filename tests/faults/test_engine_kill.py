"""The engine SIGKILLed in the middle of `up` and of `down`, at every kind of step.

Each scenario is first run once with a traced engine to count its crash points; then each trial
arms a fresh engine to SIGKILL itself at one of ten seeded points (the first and the last among
them) and checks that what follows converges: exactly the desired containers, each once and
running, every trace of them in the kernel accounted for, and nothing at all after `down`.
Even trials go through the CLI, which tells the user and sends the request again to a new engine;
odd trials send the request as a plain API client (no retry), and the next engine's own pass must
finish the job. The trials share one instance (a fresh one each would triple the time): each ends
with nothing left, which is what a fresh instance would start from.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.faults import harness, scenario
from tests.faults.census import integrity
from tests.helpers import REPO, env_for, free_port, pyorch, wait_http, wait_until

pytestmark = [pytest.mark.root, pytest.mark.faults]

def _converged(layout: HostLayout, file: str, env: dict[str, str]) -> list[str]:
    return scenario.differences(layout, scenario.EXPECTED)


def _traced(layout: HostLayout, tmp_path: Path, file: str, env: dict[str, str]) -> dict[str, list[str]]:
    """The crash points of `up` and of `down` of PROJECT, counted with a traced engine (a run that
    must leave the same as any other: converged after `up`, nothing after `down`)."""
    found = {}
    for verb, args in (("up", ("up", "-d")), ("down", ("down",))):
        trace = tmp_path / f"{verb}.trace"
        harness.restart_engine(layout, PYORCH_CRASH_TRACE=str(trace))
        pyorch(layout, "-f", file, *args, **env)
        found[verb] = trace.read_text().splitlines()
        assert (_converged(layout, file, env) if verb == "up" else harness.leftovers(layout)) == []
    return found


def _up_killed(layout: HostLayout, file: str, env: dict[str, str], trial: int, at: int, name: str) -> None:
    pid = harness.armed(layout, at)
    where = f"trial {trial}: a kill at point {at} ({name}) of `up`"
    if trial % 2 == 0:  # the CLI: it says what happened and sends `up` again to a new engine
        result = pyorch(layout, "-f", file, "up", "-d", **env)
        assert "the engine stopped during POST /v1/projects/up" in result.stderr, (where, result.stderr)
        assert harness.engine_pid(layout) != pid
    else:  # a plain API client: no retry; the next engine's passes converge what was stored
        assert harness.api(layout, "POST", "/v1/projects/up", harness.up_body(file, env)) == b"", where
        harness.wait_dead(pid, "the armed engine to die")
        harness.restart_engine(layout)
        expected = scenario.EXPECTED if "faults" in pyorch(layout, "ls").stdout else Counter()
        wait_until(lambda: scenario.differences(layout, expected) == [],
                         f"the engine's passes to converge after {where}",
                         detail=lambda: (scenario.differences(layout, expected), harness.engine_log(layout)))
        pyorch(layout, "-f", file, "up", "-d", **env)
    assert _converged(layout, file, env) == [], where
    wait_http(f"http://127.0.0.1:{env['PORT']}/")
    assert _converged(layout, file, env) == [], where  # and stays so (no late duplicate)


def _down_killed(layout: HostLayout, file: str, env: dict[str, str], trial: int, at: int, name: str) -> None:
    pid = harness.armed(layout, at)
    where = f"trial {trial}: a kill at point {at} ({name}) of `down`"
    if trial % 2 == 0:
        result = pyorch(layout, "-f", file, "down", **env)
        assert "the engine stopped during POST /v1/projects/faults/down" in result.stderr, (where, result.stderr)
        assert harness.leftovers(layout) == [], where  # the moment the repeated `down` returned
    else:
        assert harness.api(layout, "POST", "/v1/projects/faults/down", {}) == b"", where
        harness.wait_dead(pid, "the armed engine to die")
        harness.restart_engine(layout)  # its first pass finishes the `down` that was cut short
        wait_until(lambda: harness.leftovers(layout) == [], f"the engine's pass to finish after {where}",
                         detail=lambda: (harness.leftovers(layout), harness.engine_log(layout)))
        assert harness.ps(layout, "faults") == []


def test_engine_killed_during_up_and_down(layout: HostLayout, tmp_path: Path) -> None:
    """Ten seeded crash points of `up`, each followed by a `down` killed at one of ten of its own."""
    file, port = scenario.write(tmp_path), free_port()
    env = {"PORT": str(port)}
    pyorch(layout, "image", "bootstrap")
    try:
        traces = _traced(layout, tmp_path, file, env)
        ups = harness.kill_points(len(traces["up"]), "up")
        downs = harness.kill_points(len(traces["down"]), "down")
        assert len(ups) == len(downs) == harness.KILLS_PER_SCENARIO, traces
        for trial, (up_at, down_at) in enumerate(zip(ups, downs, strict=True)):
            _up_killed(layout, file, env, trial, up_at, traces["up"][up_at - 1])
            _down_killed(layout, file, env, trial, down_at, traces["down"][down_at - 1])
            assert harness.leftovers(layout) == [], trial
    finally:
        pyorch(layout, "-f", file, "down", "-t", "0", **env)
    assert harness.leftovers(layout) == []
    assert integrity(layout) == "ok"


def test_engine_killed_at_random_times_during_up(layout: HostLayout, tmp_path: Path) -> None:
    """Not at a crash point but at a random time: inside a step (a half-written file, a netlink
    request in flight), which the points, placed between steps, do not reach."""
    file, port = scenario.write(tmp_path), free_port()
    env = {"PORT": str(port)}
    pyorch(layout, "image", "bootstrap")
    rng = random.Random("random-time kills")
    try:
        for trial in range(3):
            pid = harness.restart_engine(layout)
            delay = rng.uniform(0.02, 0.25)  # an `up` of this project takes ~0.3 s or more here
            client = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "-f", file, "up", "-d"], cwd=REPO,
                                      env=env_for(layout, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            try:
                time.sleep(delay)
                harness.sigkill(pid)
                _, stderr = client.communicate(timeout=180)
            finally:
                client.kill()
            assert client.returncode == 0, (trial, delay, stderr)
            # An `up` quicker than the delay was done before the kill: the next CLI call starts an engine.
            pyorch(layout, "ls")
            assert _converged(layout, file, env) == [], (trial, delay)
            pyorch(layout, "-f", file, "down", "-t", "0", **env)
            assert harness.leftovers(layout) == [], (trial, delay)
    finally:
        pyorch(layout, "-f", file, "down", "-t", "0", **env)
