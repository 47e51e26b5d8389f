"""ImageConfig read from and written back to the OCI/Docker config JSON."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.image.config import ImageConfig, InvalidImageConfig

DOCKER_NGINX_LIKE: dict[str, Any] = {
    "Hostname": "",
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.25.3"],
    "Entrypoint": ["/docker-entrypoint.sh"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "WorkingDir": "/srv",
    "User": "101:101",
    "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
    "Labels": {"maintainer": "NGINX Docker Maintainers"},
    "StopSignal": "SIGQUIT",
    "Volumes": {"/var/cache/nginx": {}},
    "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://localhost/"], "Interval": 30000000000, "Retries": 3},
    "OnBuild": None,
}


def test_reads_every_field_docker_writes() -> None:
    config = ImageConfig.from_oci(DOCKER_NGINX_LIKE)
    assert config.env[1] == "NGINX_VERSION=1.25.3"
    assert config.entrypoint == ["/docker-entrypoint.sh"]
    assert config.cmd == ["nginx", "-g", "daemon off;"]
    assert config.working_dir == "/srv"
    assert config.user == "101:101"
    assert config.exposed_ports == ["443/tcp", "80/tcp"]
    assert config.labels == {"maintainer": "NGINX Docker Maintainers"}
    assert config.stop_signal == "SIGQUIT"
    assert config.volumes == ["/var/cache/nginx"]
    assert config.healthcheck == {"Test": ["CMD-SHELL", "curl -f http://localhost/"], "Interval": 30000000000,
                                  "Retries": 3}


def test_round_trip_keeps_everything() -> None:
    config = ImageConfig.from_oci(DOCKER_NGINX_LIKE)
    assert ImageConfig.from_oci(config.to_oci()) == config


def test_nulls_and_missing_keys_give_defaults() -> None:
    for raw in (None, {}, {"Env": None, "Cmd": None, "Entrypoint": None, "Labels": None, "ExposedPorts": None,
                           "Volumes": None, "WorkingDir": None, "User": None, "StopSignal": None,
                           "Healthcheck": None}):
        assert ImageConfig.from_oci(raw) == ImageConfig()
    assert ImageConfig().to_oci() == {"Env": []}


def test_empty_command_differs_from_no_command() -> None:
    cleared = ImageConfig.from_oci({"Entrypoint": [], "Cmd": []})
    assert (cleared.entrypoint, cleared.cmd) == ([], [])
    assert ImageConfig.from_oci(cleared.to_oci()) == cleared


@pytest.mark.parametrize("raw", [
    {"Env": "PATH=/bin"},
    {"Cmd": "sh"},
    {"Entrypoint": [1]},
    {"WorkingDir": ["/"]},
    {"ExposedPorts": ["80/tcp"]},
    {"Labels": {"a": 1}},
    {"Healthcheck": ["CMD", "true"]},
    ["not", "an", "object"],
])
def test_wrong_shapes_are_typed_errors(raw: Any) -> None:
    with pytest.raises(InvalidImageConfig):
        ImageConfig.from_oci(raw)


def test_config_is_frozen() -> None:
    config = ImageConfig(cmd=["sh"])
    with pytest.raises(AttributeError):
        config.cmd = ["bash"]  # type: ignore[misc]
