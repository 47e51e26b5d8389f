"""Profiles (15-profiles.md): which services are active."""

from __future__ import annotations

import pytest

from orchestrator.spec.errors import UndefinedReferenceError
from tests.unit.spec.conftest import Load, Write

PROJECT = """
services:
  web: {image: x}
  debug: {image: x, profiles: [debug]}
  tools: {image: x, profiles: [debug, ops]}
  frontend: {image: x, profiles: [frontend], depends_on: [backend]}
  backend: {image: x, profiles: [backend]}
"""


@pytest.mark.parametrize(("profiles", "environ", "named", "active"), [
    ([], {}, [], ["web"]),
    (["debug"], {}, [], ["debug", "tools", "web"]),
    (["ops"], {}, [], ["tools", "web"]),
    ([], {"COMPOSE_PROFILES": "ops"}, [], ["tools", "web"]),
    ([], {"COMPOSE_PROFILES": "debug,ops"}, [], ["debug", "tools", "web"]),
    (["*"], {}, [], ["backend", "debug", "frontend", "tools", "web"]),
    (["frontend", "backend"], {}, [], ["backend", "frontend", "web"]),
    # naming a service on the command line enables its profiles (as Compose does)
    ([], {}, ["debug"], ["debug", "tools", "web"]),
    (["backend"], {}, ["frontend"], ["backend", "frontend", "web"]),
])
def test_active_services(write: Write, load: Load, profiles: list[str], environ: dict[str, str],
                         named: list[str], active: list[str]) -> None:
    write("compose.yaml", PROJECT)
    project = load(profiles=profiles, environ=environ, services=named)
    assert sorted(project.services) == active
    assert sorted(project.disabled_services) == sorted({"web", "debug", "tools", "frontend", "backend"} - set(active))


def test_a_named_service_does_not_enable_its_dependencies_profiles(write: Write, load: Load) -> None:
    write("compose.yaml", PROJECT)
    with pytest.raises(UndefinedReferenceError, match="'backend', which is not enabled"):
        load(services=["frontend"])


def test_dependency_on_a_disabled_service_is_an_error(write: Write, load: Load) -> None:
    write("compose.yaml", PROJECT)
    with pytest.raises(UndefinedReferenceError, match="not enabled by the active profiles") as info:
        load(profiles=["frontend"])
    assert info.value.location is not None and info.value.location.line is not None


def test_optional_dependency_on_a_disabled_service_is_dropped(write: Write, load: Load) -> None:
    write("compose.yaml", """
        services:
          web: {image: x, depends_on: {db: {condition: service_started, required: false}}}
          db: {image: x, profiles: [db]}
    """)
    project = load()
    assert project.services["web"].depends_on == {}
    assert "service web: optional dependency 'db' is disabled by profiles; ignored" in project.warnings


def test_profiles_from_dotenv(write: Write, load: Load) -> None:
    write("compose.yaml", PROJECT)
    write(".env", "COMPOSE_PROFILES=debug")
    assert "debug" in load().services


def test_unknown_named_service(write: Write, load: Load) -> None:
    write("compose.yaml", PROJECT)
    with pytest.raises(UndefinedReferenceError, match="no such service"):
        load(services=["ghost"])


def test_default_network_only_when_some_service_needs_it(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  a: {image: x, network_mode: host}\n  b: {image: x, network_mode: none}\n")
    assert load().networks == {}
