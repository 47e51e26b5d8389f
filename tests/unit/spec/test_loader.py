"""End-to-end loader behaviour: discovery, .env, project name, environment, errors with locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.spec import ComposeError, Project
from orchestrator.spec.confighash import config_hash
from orchestrator.spec.errors import (
    ComposeFileNotFound,
    CycleError,
    InterpolationError,
    ProjectNameError,
    SchemaError,
    UndefinedReferenceError,
)
from tests.unit.spec.conftest import Load, Write

SIMPLE = """
services:
  web:
    image: nginx
"""


def test_minimal_project(write: Write, load: Load, tmp_path: Path) -> None:
    write("compose.yaml", SIMPLE)
    project = load()
    assert project.name == tmp_path.name.lower().replace(".", "")
    assert project.working_dir == tmp_path
    assert list(project.services) == ["web"]
    web = project.services["web"]
    assert web.name == "web" and web.image == "nginx" and web.replicas == 1
    assert web.networks == {"default": None}
    assert "default" in project.networks


def test_json_dump_round_trips_through_model_validate(write: Write, load: Load) -> None:
    write("compose.yaml", """
        services:
          web:
            image: nginx
            ports: ["8080:80", "127.0.0.1:5353:53/udp"]
            deploy: {replicas: 3, resources: {limits: {memory: 64m, cpus: "0.5"}}}
            stop_grace_period: 1m30s
            healthcheck: {test: [CMD, "true"], interval: 5s}
            x-custom: {a: 1}
    """)
    project = load()
    again = Project.model_validate(project.model_dump(mode="json"))
    assert again == project
    assert config_hash(again, "web") == config_hash(project, "web")
    web = again.services["web"]
    assert web.deploy is not None and web.deploy.resources is not None
    assert web.deploy.resources.limits is not None
    assert web.deploy.resources.limits.memory == 64 * 1024 * 1024
    assert web.stop_grace_period == 90.0
    assert web.extensions() == {"x-custom": {"a": 1}}


# --- discovery -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"])
def test_default_file_names(write: Write, load: Load, name: str) -> None:
    write(name, SIMPLE)
    assert "web" in load().services


def test_discovery_prefers_compose_yaml(write: Write, load: Load) -> None:
    write("docker-compose.yml", "services: {old: {image: a}}")
    write("compose.yaml", "services: {new: {image: a}}")
    project = load()
    assert list(project.services) == ["new"]
    assert any("multiple config files" in w and "using compose.yaml" in w for w in project.warnings)


def test_discovery_walks_up_and_reads_override(write: Write, load: Load, tmp_path: Path) -> None:
    write("compose.yaml", SIMPLE)
    write("compose.override.yaml", "services: {web: {image: nginx:override}}")
    write(".env", "COMPOSE_PROFILES=\nFROM_DOTENV=yes")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    project = load(working_dir=deep)
    assert project.services["web"].image == "nginx:override"
    assert project.working_dir == tmp_path


def test_no_file_found(load: Load) -> None:
    with pytest.raises(ComposeFileNotFound, match="no configuration file"):
        load(working_dir=Path("/proc/sys"))


def test_compose_file_variable(write: Write, load: Load) -> None:
    write("one.yaml", "services: {a: {image: x}}")
    write("two.yaml", "services: {b: {image: y}}")
    project = load(environ={"COMPOSE_FILE": "one.yaml:two.yaml"})
    assert sorted(project.services) == ["a", "b"]


def test_compose_file_from_dotenv(write: Write, load: Load) -> None:
    write("one.yaml", "services: {a: {image: x}}")
    write(".env", "COMPOSE_FILE=one.yaml")
    assert list(load().services) == ["a"]


def test_stdin(load: Load, tmp_path: Path) -> None:
    project = load(files=[Path("-")], stdin_text="services: {s: {image: x}}", project_name="p")
    assert list(project.services) == ["s"] and project.working_dir == tmp_path


# --- project name --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("explicit", "environ", "file_name", "expected"), [
    ("cli", {"COMPOSE_PROJECT_NAME": "env"}, "file", "cli"),
    (None, {"COMPOSE_PROJECT_NAME": "env"}, "file", "env"),
    (None, {}, "file", "file"),
    (None, {}, "My.App_Name-1", "myapp_name-1"),
    (None, {}, "__x", "x"),
    (None, {"N": "from-var"}, "${N}", "from-var"),
])
def test_project_name_precedence(write: Write, load: Load, explicit: str | None, environ: dict[str, str],
                                 file_name: str, expected: str) -> None:
    write("compose.yaml", f"name: '{file_name}'\n" + SIMPLE)
    assert load(project_name=explicit, environ=environ).name == expected


def test_project_name_from_directory_is_normalised(write: Write, load: Load, tmp_path: Path) -> None:
    directory = tmp_path / "My Project.Dir"
    write("My Project.Dir/compose.yaml", SIMPLE)
    assert load(working_dir=directory).name == "myprojectdir"


@pytest.mark.parametrize(("explicit", "environ"), [
    ("Upper", {}), ("-dash", {}), ("has space", {}), (None, {"COMPOSE_PROJECT_NAME": "Bad!"}),
])
def test_invalid_explicit_names_are_refused(write: Write, load: Load, explicit: str | None,
                                            environ: dict[str, str]) -> None:
    write("compose.yaml", SIMPLE)
    with pytest.raises(ProjectNameError):
        load(project_name=explicit, environ=environ)


def test_name_with_no_valid_character(write: Write, load: Load) -> None:
    write("compose.yaml", "name: '!!!'\n" + SIMPLE)
    with pytest.raises(ProjectNameError):
        load()


def test_project_name_is_available_for_interpolation(write: Write, load: Load) -> None:
    write("compose.yaml", "name: demo\nservices: {web: {image: x, container_name: '${COMPOSE_PROJECT_NAME}-web'}}")
    assert load().services["web"].container_name == "demo-web"


# --- .env and environment ------------------------------------------------------------------------------

def test_dotenv_feeds_interpolation_and_process_env_wins(write: Write, load: Load) -> None:
    write(".env", "TAG=fromdotenv\nOTHER=dot")
    write("compose.yaml", "services: {web: {image: 'nginx:${TAG}', hostname: '${OTHER}'}}")
    project = load(environ={"TAG": "fromprocess"})
    assert project.services["web"].image == "nginx:fromprocess"
    assert project.services["web"].hostname == "dot"


def test_env_file_option_replaces_dotenv(write: Write, load: Load, tmp_path: Path) -> None:
    write(".env", "TAG=default")
    write("custom.env", "TAG=custom")
    write("compose.yaml", "services: {web: {image: 'nginx:${TAG}'}}")
    assert load(env_files=[Path("custom.env")]).services["web"].image == "nginx:custom"


def test_dotenv_from_project_directory(write: Write, load: Load, tmp_path: Path) -> None:
    write("proj/.env", "TAG=proj")
    write("compose.yaml", "services: {web: {image: 'nginx:${TAG}'}}")
    project = load(project_directory=tmp_path / "proj", files=[tmp_path / "compose.yaml"])
    assert project.services["web"].image == "nginx:proj"
    assert project.working_dir == tmp_path / "proj"


def test_environment_forms_and_env_file(write: Write, load: Load) -> None:
    write("a.env", "A=from_a\nB=from_a\nC=from_a")
    write("b.env", "B=from_b")
    write("compose.yaml", """
        services:
          web:
            image: x
            env_file: [a.env, b.env, {path: missing.env, required: false}]
            environment:
              - C=from_environment
              - BARE
              - MISSING_BARE
              - EMPTY=
    """)
    env = load(environ={"BARE": "process"}).services["web"].environment
    assert env == {"A": "from_a", "B": "from_b", "C": "from_environment", "BARE": "process",
                   "MISSING_BARE": None, "EMPTY": ""}


def test_required_env_file_missing(write: Write, load: Load) -> None:
    write("compose.yaml", "services: {web: {image: x, env_file: nope.env}}")
    with pytest.raises(ComposeError, match=r"nope\.env"):
        load()


def test_environment_map_values_become_strings(write: Write, load: Load) -> None:
    write("compose.yaml", "services: {web: {image: x, environment: {N: 1, B: true, F: 1.5, U: null}}}")
    assert load(environ={"U": "u"}).services["web"].environment == {"N": "1", "B": "true", "F": "1.5", "U": "u"}


# --- errors with locations -----------------------------------------------------------------------------

def _location(exc: ComposeError) -> tuple[str, int | None, int | None]:
    assert exc.location is not None
    return Path(exc.location.file).name, exc.location.line, exc.location.column


def test_unknown_key_suggests_the_close_one(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: x\n    enviroment: {A: 1}\n")
    with pytest.raises(SchemaError) as info:
        load()
    assert "did you mean 'environment'?" in str(info.value)
    assert _location(info.value) == ("compose.yaml", 4, 5)
    assert str(info.value).startswith(str(info.value.location))


def test_unknown_top_level_and_nested_keys(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: x\n    deploy:\n      replica: 2\n")
    with pytest.raises(SchemaError, match="did you mean 'replicas'") as info:
        load()
    assert _location(info.value) == ("compose.yaml", 5, 7)
    write("compose.yaml", "servces: {}\n")
    with pytest.raises(SchemaError, match="did you mean 'services'"):
        load()


def test_extension_keys_are_allowed(write: Write, load: Load) -> None:
    write("compose.yaml", "x-top: 1\nservices:\n  web: {image: x, x-mine: {a: b}}\n")
    project = load()
    assert project.services["web"].extensions() == {"x-mine": {"a": "b"}}


def test_wrong_type_names_the_path_and_line(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: x\n    mem_limit: lots\n")
    with pytest.raises(SchemaError, match=r"services\.web\.mem_limit") as info:
        load()
    assert _location(info.value) == ("compose.yaml", 4, 16)


def test_interpolation_error_names_variable_and_line(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n")
    with pytest.raises(InterpolationError, match="required variable IMAGE is missing a value: set IMAGE") as info:
        load()
    assert _location(info.value) == ("compose.yaml", 3, 12)


def test_invalid_interpolation_names_the_path(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: '${oops'\n")
    with pytest.raises(InterpolationError, match=r"services\.web\.image") as info:
        load()
    assert _location(info.value)[1] == 3


def test_yaml_syntax_error_location(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: [unclosed\n")
    with pytest.raises(ComposeError) as info:
        load()
    assert _location(info.value)[0] == "compose.yaml" and _location(info.value)[1] is not None


def test_duplicate_key_is_an_error(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web: {image: x}\n  web: {image: y}\n")
    with pytest.raises(ComposeError, match="duplicate key 'web'") as info:
        load()
    assert _location(info.value)[1] == 3


def test_service_needs_image_or_build(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    command: x\n")
    with pytest.raises(SchemaError, match="neither an image nor a build") as info:
        load()
    assert _location(info.value)[1] == 3


@pytest.mark.parametrize(("body", "message"), [
    ("image: x\n    networks: [nope]", "undefined network 'nope'"),
    ("image: x\n    volumes: ['data:/d']", "undefined volume 'data'"),
    ("image: x\n    secrets: [s]", "undefined secret 's'"),
    ("image: x\n    depends_on: [ghost]", "depends on service 'ghost'"),
    # Compose's normalisation makes the service depend on the one whose namespace it joins.
    ("image: x\n    network_mode: 'service:ghost'", "depends on service 'ghost'"),
])
def test_undefined_references(write: Write, load: Load, body: str, message: str) -> None:
    write("compose.yaml", f"services:\n  web:\n    {body}\n")
    with pytest.raises(UndefinedReferenceError, match=message) as info:
        load()
    assert _location(info.value)[1] is not None


def test_dependency_cycle(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n")
    with pytest.raises(CycleError, match="dependency cycle"):
        load()


@pytest.mark.parametrize(("body", "replicas"), [
    ("scale: 3", 3), ("deploy: {replicas: 2}", 2), ("scale: 2\n    deploy: {replicas: 2}", 2), ("", 1),
    ("deploy: {replicas: '${N}'}", 4),
])
def test_replicas(write: Write, load: Load, body: str, replicas: int) -> None:
    write("compose.yaml", f"services:\n  web:\n    image: x\n    {body}\n")
    assert load(environ={"N": "4"}).services["web"].replicas == replicas


def test_scale_and_replicas_must_agree(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n")
    with pytest.raises(SchemaError, match=r"distinct values on 'scale' and 'deploy\.replicas'") as info:
        load()
    assert _location(info.value)[1] is not None


def test_a_healthcheck_test_is_checked_on_enabled_services_only(write: Write, load: Load) -> None:
    """As Compose: a service the profiles disable is not checked for consistency."""
    write("compose.yaml", "services:\n  web: {image: x, profiles: [p], healthcheck: {test: [SHELL, x]}}\n")
    assert load().services == {}
    with pytest.raises(SchemaError, match="must start with CMD, CMD-SHELL or NONE") as info:
        load(profiles=["p"])
    assert _location(info.value)[1] == 2


def test_warnings_name_unapplied_keys_once(write: Write, load: Load) -> None:
    write("compose.yaml", """
        version: "3.8"
        services:
          a: {image: x, blkio_config: {weight: 10}, deploy: {labels: {a: b}, replicas: 1}}
          b: {image: x, blkio_config: {weight: 20}, environment: {A: $UNSET_VAR}}
    """)
    warnings = load().warnings
    assert "service a: key 'blkio_config' is accepted but not applied yet" in warnings
    assert "service a: key 'deploy.labels' is accepted but not applied yet" in warnings
    assert sum("blkio_config" in w for w in warnings) == 1
    assert not any("deploy.replicas" in w for w in warnings)
    assert any("version" in w and "obsolete" in w for w in warnings)
    assert any('"UNSET_VAR" variable is not set' in w for w in warnings)


def test_invalid_name_from_file_has_a_location(write: Write, load: Load) -> None:
    write("compose.yaml", "services: {web: {image: x}}\nname: '---'\n")
    with pytest.raises(ProjectNameError) as info:
        load()
    assert _location(info.value) == ("compose.yaml", 2, 7)


def test_container_name_with_replicas(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: x\n    container_name: one\n    scale: 2\n")
    with pytest.raises(SchemaError, match="container_name") as info:
        load()
    assert _location(info.value)[1] == 4


def test_dotenv_can_be_disabled(write: Write, load: Load) -> None:
    write(".env", "TAG=dotenv")
    write("compose.yaml", "services: {web: {image: 'x:${TAG:-none}'}}")
    assert load(environ={"COMPOSE_DISABLE_ENV_FILE": "1"}).services["web"].image == "x:none"


def test_invalid_dotenv_line_is_located(write: Write, load: Load) -> None:
    write(".env", "OK=1\nnot a valid line\n")
    write("compose.yaml", SIMPLE)
    with pytest.raises(ComposeError) as info:
        load()
    assert _location(info.value) == (".env", 2, 1)


def test_the_process_environment_is_never_read(write: Write, load: Load, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAK", "from-os-environ")
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "leaked")
    write("compose.yaml", "name: mine\nservices: {web: {image: 'x:${LEAK:-clean}', environment: [LEAK]}}")
    project = load(environ={})
    assert project.name == "mine"
    assert project.services["web"].image == "x:clean"
    assert project.services["web"].environment == {"LEAK": None}


@pytest.mark.parametrize(("body", "message", "line"), [
    ("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.1.0.0/33\n", "invalid subnet", 5),
    ("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.1.0.0/24\n          gateway: 10.2.0.1\n",
     "gateway 10.2.0.1 is not inside", 6),
    ("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.1.0.0/24\n          ip_range: 10.1.1.0/25\n",
     "ip_range 10.1.1.0/25 is not inside", 6),
    ("networks:\n  n:\n    driver_opts:\n      com.docker.network.bridge.enable_icc: 'no'\n",
     "enable_icc must be true or false, not 'no'", 4),
    ("networks:\n  n:\n    driver_opts:\n      com.docker.network.driver.mtu: 1400b\n",
     "driver.mtu must be an integer, not '1400b'", 4),
    ("networks:\n  n:\n    driver_opts:\n      com.docker.network.driver.mtu: 67\n",
     "driver.mtu 67 is outside 68-65535", 4),
])
def test_bad_network_addresses_are_errors_with_their_line(write: Write, load: Load, body: str, message: str,
                                                         line: int) -> None:
    write("compose.yaml", "services:\n  web: {image: x, networks: [n]}\n" + body)
    with pytest.raises(SchemaError, match=message) as info:
        load()
    assert _location(info.value)[1] == line + 2


def test_ipv4_address_outside_its_subnet_is_an_error(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  web:\n    image: x\n    networks:\n      n:\n        ipv4_address: 10.9.0.5\n"
          "networks:\n  n:\n    ipam: {config: [{subnet: 10.1.0.0/24}]}\n")
    with pytest.raises(SchemaError, match=r"not inside the subnet 10\.1\.0\.0/24") as info:
        load()
    assert _location(info.value)[1] == 6
