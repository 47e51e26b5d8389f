"""An exec'd process that exits before the shim has read its pid still reports its exit code."""

from __future__ import annotations

import pytest

from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime

pytestmark = pytest.mark.root


def test_many_instant_execs_all_report_their_exit(rt: ContainerRuntime) -> None:
    info = rt.create(RunConfig(name="ex", image="pyorch.local/busybox:latest", command=["sleep", "60"]))
    rt.start(info.id)
    codes = []
    for i in range(40):
        session = rt.exec(info.id, ["sh", "-c", f"exit {i % 3}"])
        codes.append(session.wait(timeout=10))
    assert codes == [i % 3 for i in range(40)]
