"""`run`'s overrides and one-off labels on the service's runtime config (pure)."""

from __future__ import annotations

import pytest

from orchestrator.engine.labels import LABEL_ONEOFF, LABEL_ONEOFF_PROJECT, LABEL_PROJECT
from orchestrator.engine.oneoff import RunRequest, adjust_config, oneoff_name
from orchestrator.errors import EngineError
from runtime.container.runconfig import AnonymousVolumes, Mount, RunConfig


def config() -> RunConfig:
    return RunConfig(name="p-web-run-x", image="img", entrypoint=["/entry"], command=["serve"],
                     environment={"A": "1", "B": "2"}, user="app", working_dir="/srv",
                     labels={LABEL_PROJECT: "p", LABEL_ONEOFF: "False"})


def test_name_is_composes() -> None:
    assert oneoff_name("p", "web", "0123456789abcdef") == "p-web-run-0123456789ab"


def test_oneoff_is_not_labelled_as_a_replica() -> None:
    cfg = config()
    adjust_config(cfg, "p", RunRequest(service="web"), "slug")
    assert LABEL_PROJECT not in cfg.labels
    assert cfg.labels[LABEL_ONEOFF_PROJECT] == "p" and cfg.labels[LABEL_ONEOFF] == "True"
    assert (cfg.entrypoint, cfg.command, cfg.user, cfg.working_dir) == (["/entry"], ["serve"], "app", "/srv")


def test_command_env_user_workdir_override() -> None:
    cfg = config()
    request = RunRequest.from_body({"service": "web", "command": ["sh", "-c", "x"], "env": ["B=3", "C="],
                                    "user": "0", "workdir": "/tmp"})
    adjust_config(cfg, "p", request, "slug")
    assert cfg.command == ["sh", "-c", "x"] and cfg.entrypoint == ["/entry"]
    assert cfg.environment == {"A": "1", "B": "3", "C": ""}
    assert (cfg.user, cfg.working_dir) == ("0", "/tmp")


def test_entrypoint_override_drops_the_services_command() -> None:
    cfg = config()
    adjust_config(cfg, "p", RunRequest(service="web", entrypoint=["sh", "-c"]), "slug")
    assert cfg.entrypoint == ["sh", "-c"] and cfg.command == []


def test_a_oneoff_gets_anonymous_volumes_of_its_own() -> None:
    cfg = config()
    cfg.mounts = [Mount("volume", "/scratch", "p_web_1_anon_0123456789ab"), Mount("volume", "/data", "p_data")]
    cfg.image_volumes = AnonymousVolumes("p_web_1_anon_", {"com.docker.volume.anonymous": ""})
    adjust_config(cfg, "p", RunRequest(service="web"), "fedcba9876543210")
    assert [m.source for m in cfg.mounts] == ["p_web_run_fedcba987654_anon_0123456789ab", "p_data"]
    assert cfg.image_volumes == AnonymousVolumes("p_web_run_fedcba987654_anon_", {"com.docker.volume.anonymous": ""})


def test_bad_env_entry_is_refused() -> None:
    with pytest.raises(EngineError, match="KEY=VALUE"):
        RunRequest.from_body({"service": "web", "env": ["NOEQUALS"]})
