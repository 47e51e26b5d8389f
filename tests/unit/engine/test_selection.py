"""`up SERVICE...`, `--no-deps` and `--scale` as the spec the engine stores (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engine.selection import dependencies_closure, parse_scale, select_services, with_scale
from orchestrator.errors import EngineError


def spec(**services: dict[str, Any]) -> dict[str, Any]:
    return {"name": "p", "services": services}


NEW = spec(db={"image": "db:2"}, cache={"image": "c:2"}, web={"image": "w:2", "depends_on": {"db": {}}},
           proxy={"image": "p:2", "depends_on": {"web": {}}})


def test_closure_follows_dependencies_transitively() -> None:
    assert dependencies_closure(NEW["services"], ["proxy"]) == {"proxy", "web", "db"}


def test_no_selection_is_the_whole_project() -> None:
    assert select_services(NEW, None, [], False) is NEW


def test_selected_services_and_their_dependencies_take_the_new_definitions() -> None:
    previous = spec(cache={"image": "c:1"}, db={"image": "db:1"})
    chosen = select_services(NEW, previous, ["web"], no_deps=False)["services"]
    assert chosen == {"db": {"image": "db:2"}, "cache": {"image": "c:1"},
                      "web": {"image": "w:2", "depends_on": {"db": {}}}}


def test_no_deps_keeps_dependencies_as_stored_or_leaves_them_out() -> None:
    previous = spec(db={"image": "db:1"})
    assert select_services(NEW, previous, ["web"], no_deps=True)["services"]["db"] == {"image": "db:1"}
    assert set(select_services(NEW, None, ["web"], no_deps=True)["services"]) == {"web"}


def test_unknown_service_is_refused() -> None:
    with pytest.raises(EngineError, match="no such service: nope"):
        select_services(NEW, None, ["nope"], False)
    with pytest.raises(EngineError, match="no such service"):
        with_scale(NEW, {"nope": 1})


def test_scale_sets_scale_and_keeps_deploy_replicas_consistent() -> None:
    source = spec(a={"image": "x", "deploy": {"replicas": 2}}, b={"image": "x"})
    scaled = with_scale(source, {"a": 5, "b": 0})
    assert scaled["services"]["a"]["deploy"]["replicas"] == 5 and scaled["services"]["a"]["scale"] == 5
    assert scaled["services"]["b"]["scale"] == 0
    assert source["services"]["a"]["deploy"]["replicas"] == 2  # the input is not changed
    with pytest.raises(EngineError):
        with_scale(source, {"a": -1})


@pytest.mark.parametrize("bad", ["web", "web=", "=3", "web=x", "web=-1"])
def test_parse_scale_refuses_bad_specifiers(bad: str) -> None:
    with pytest.raises(EngineError, match="SERVICE=NUMBER"):
        parse_scale([bad])


def test_parse_scale() -> None:
    assert parse_scale(["web=3", "db=0"]) == {"web": 3, "db": 0}
