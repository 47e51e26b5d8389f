"""The shim SIGKILLed in the middle of `up`, at ten seeded crash points of the engine.

The engine is armed (``PYORCH_CRASH_DO=shim``) to SIGKILL the shim, not itself, at its Nth
crash point, so the shim dies between two steps of a create or a start, with containers
half set up. The engine goes on and meets a dead shim at its next request: `up` either
finishes (a new shim is started, adopts what runs) or fails with an error a person can read;
then a second `up` converges to exactly the desired replicas, each once, those that ran before
the kill still running (adopted, not duplicated), and `down` leaves nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.faults import census, harness, scenario
from tests.faults.census import integrity
from tests.helpers import free_port, pyorch, wait_http

pytestmark = [pytest.mark.root, pytest.mark.faults]


def test_shim_killed_during_up(layout: HostLayout, tmp_path: Path) -> None:
    file, port = scenario.write(tmp_path), free_port()
    env = {"PORT": str(port)}
    pyorch(layout, "image", "bootstrap")
    try:
        trace = tmp_path / "up.trace"
        harness.restart_engine(layout, PYORCH_CRASH_TRACE=str(trace))
        pyorch(layout, "-f", file, "up", "-d", **env)
        assert scenario.differences(layout, scenario.EXPECTED) == []
        points = trace.read_text().splitlines()  # (`up`'s only)
        pyorch(layout, "-f", file, "down", "-t", "0", **env)
        chosen = harness.kill_points(len(points), "shim")
        assert len(chosen) == harness.KILLS_PER_SCENARIO, points
        for trial, at in enumerate(chosen):
            where = f"trial {trial}: the shim killed at point {at} ({points[at - 1]}) of `up`"
            engine = harness.restart_engine(layout, PYORCH_CRASH_AT=str(at), PYORCH_CRASH_DO="shim")
            shim = census.shim_pid(layout)
            result = pyorch(layout, "-f", file, "up", "-d", check=False, **env)
            assert "internal error" not in result.stderr and "Traceback" not in result.stderr, (where, result.stderr)
            assert shim is None or not harness.alive(shim), where  # it was killed
            assert harness.engine_pid(layout) == engine, where  # the engine lives on
            running_before = {str(r["id"]) for r in harness.ps(layout, "faults") if r["status"] == "running"}
            pyorch(layout, "-f", file, "up", "-d", **env)
            assert scenario.differences(layout, scenario.EXPECTED) == [], (where, result.stderr)
            wait_http(f"http://127.0.0.1:{port}/")
            rows = harness.ps(layout, "faults")
            assert scenario.differences(layout, scenario.EXPECTED) == [], where  # and stays so
            # What ran before the second `up` runs on: adopted by the new shim, not replaced.
            assert running_before <= {str(r["id"]) for r in rows}, (where, running_before, rows)
            pyorch(layout, "-f", file, "down", "-t", "0", **env)
            assert harness.leftovers(layout) == [], where
    finally:
        pyorch(layout, "-f", file, "down", "-t", "0", **env)
    assert harness.leftovers(layout) == []
    assert integrity(layout) == "ok"
