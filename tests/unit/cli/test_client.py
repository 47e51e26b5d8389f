"""The CLI finds the engine's socket where the engine puts it, without importing the runtime."""

from __future__ import annotations

import pytest

from orchestrator.cli.client import run_root
from runtime.layout import HostLayout


@pytest.mark.parametrize("environ", [
    {},
    {"PYORCH_ROOT": "/srv/pyorch"},
    {"PYORCH_RUN": "/tmp/run-here"},
    {"PYORCH_ROOT": "/srv/pyorch", "PYORCH_RUN": "/tmp/run-here"},
])
def test_the_client_and_the_runtime_agree_on_the_run_root(environ: dict[str, str]) -> None:
    assert run_root(environ) == HostLayout.from_env(environ).run_root
