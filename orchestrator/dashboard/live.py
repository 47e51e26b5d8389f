"""The live loop: sample the engine about once a second and redraw (rich Live, full screen)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live

from orchestrator.cli.client import EngineClient
from orchestrator.dashboard.frame import render_frame
from orchestrator.dashboard.snapshot import Snapshot, build_snapshot

CPU_WINDOW_S = 0.3   # --once: the gap between the two stats samples CPU % needs


class Sampler:
    """Keeps the previous stats sample so every frame's CPU % covers the time since the last one."""

    def __init__(self, client: EngineClient, project: str, desired: dict[str, int]) -> None:
        self.client = client
        self.project = project
        self.desired = desired
        self._previous: list[dict[str, object]] | None = None

    def _stats(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = self.client.request("GET", f"/v1/projects/{self.project}/stats")
        return rows

    def sample(self) -> Snapshot:
        if self._previous is None:
            self._previous = self._stats()
            time.sleep(CPU_WINDOW_S)
        before, after = self._previous, self._stats()
        ps = self.client.request("GET", f"/v1/projects/{self.project}/ps?all=1")
        rollouts = self.client.request("GET", f"/v1/projects/{self.project}/rollouts")
        self._previous = after
        return build_snapshot(self.project, self.desired, ps, before, after, rollouts,  # type: ignore[arg-type]
                              time.time())


def run(console: Console, sampler: Sampler, interval: float, once: bool) -> int:
    if once:
        console.print(render_frame(sampler.sample()))
        return 0
    try:
        with Live(render_frame(sampler.sample()), console=console, screen=True, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(render_frame(sampler.sample()), refresh=True)
    except KeyboardInterrupt:
        return 0
