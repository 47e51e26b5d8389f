"""`python -m orchestrator.engine.daemon`: the long-running engine process.

SIGTERM or an API shutdown stops the engine only; containers keep running under pyorch-shim and
are adopted by the next engine (live restore).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

from apscheduler.schedulers.background import BackgroundScheduler

from orchestrator.engine.api import Routes, serve
from orchestrator.engine.build_api import BuildRoutes
from orchestrator.engine.compose_api import ComposeRoutes
from orchestrator.engine.copy_api import CopyRoutes
from orchestrator.engine.engine import Engine, resync_period
from orchestrator.engine.events_api import EventRoutes
from orchestrator.engine.images_api import ImageRoutes
from orchestrator.engine.network_api import NetworkRoutes
from orchestrator.engine.project_api import ProjectRoutes
from orchestrator.engine.rollout_api import RolloutRoutes
from orchestrator.engine.session_api import SessionRoutes
from orchestrator.engine.store import Store
from orchestrator.engine.volumes_api import VolumeRoutes
from runtime import faults
from runtime.container.runtime import ContainerRuntime
from runtime.layout import HostLayout
from runtime.network import NetworkManager


def build_engine(layout: HostLayout) -> Engine:
    """The engine and the parts it is made of: the store, the container runtime, the network
    manager and the scheduler that runs probes and timers; `PYORCH_RESYNC_S` sets how often every
    container is listed from the kernel again (docs/engine.md)."""
    return Engine(layout, Store(layout.state_root / "engine.db"), ContainerRuntime(layout), NetworkManager(layout),
                  BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1}),
                  resync_s=resync_period(), after_resync=release_freed_heap)


def api_routes(engine: Engine) -> list[Routes]:
    """The API's route groups, each handed the parts of the engine it uses and nothing else (the
    Engine object itself stays here: tests/unit/test_layering.py checks that no route sees it)."""
    runtime, queries = engine.runtime, engine.queries

    def in_use() -> set[str]:  # image ids of every container pyorch has, running or not
        return {c.record.image_id for c in runtime.containers()}

    return [
        ProjectRoutes(engine.ops, queries, engine.observe, runtime),
        EventRoutes(engine.store),
        ImageRoutes(runtime.images, engine.registries, in_use),
        BuildRoutes(runtime, engine.network, engine.registries, in_use),
        RolloutRoutes(engine.rollouts),
        SessionRoutes(runtime, queries.service_container, engine.ops),
        CopyRoutes(runtime, queries.service_replica),
        ComposeRoutes(engine.ops, queries, runtime),
        NetworkRoutes(engine.store, engine.loader, engine.network.list_networks, queries.service_container),
        VolumeRoutes(runtime),
    ]


M_ARENA_MAX = -8  # mallopt(3)


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives threads that allocate at once arenas of their own (up to eight per core), and
    each keeps its pages: with the executor's, the API's, the DNS and the probes' threads that
    was ~4 MiB of the engine's RSS at 200 containers. Before any thread starts."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def release_freed_heap() -> None:
    """Give the kernel back the heap pages that bursts (an `up` of hundreds: requests, records,
    observations) freed: glibc keeps them mapped otherwise. Once per resync, so an idle engine
    pays it every few tens of seconds (~1.5 MiB of RSS at 100 containers after an `up`)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


def main() -> None:
    fewer_malloc_arenas()
    layout = HostLayout.from_env()
    layout.make_private_dirs()
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("PYORCH_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    (layout.run_root / "engine.pid").write_text(str(os.getpid()))
    faults.arm_from_env(layout.run_root)  # fault-injection tests only (runtime/faults.py)
    engine = build_engine(layout)
    engine.start()

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    try:
        serve(api_routes(engine), layout.run_root / "engine.sock", layout.state_root)
    finally:
        engine.shutdown()
        (layout.run_root / "engine.pid").unlink(missing_ok=True)
        logging.shutdown()
        # Probe and reconcile jobs may be mid-flight in worker threads; every write they make is a
        # committed SQLite transaction or an atomic file, so nothing is lost by not joining them.
        os._exit(0)


if __name__ == "__main__":
    main()
