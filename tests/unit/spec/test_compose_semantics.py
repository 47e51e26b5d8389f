"""The loader's semantics where pyorch used to differ from Compose v2 (issue 16), one test each.

Each was checked against Docker Compose v2.40.3 (tests/compose_diff runs the same shapes through
the binary); these tests pin the behaviour without needing it.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.spec import LoadOptions, Project, load_project
from orchestrator.spec.render import profile_names, render_config
from tests.unit.spec.conftest import Load, Write


def test_the_shell_wins_over_dotenv_also_inside_dotenv(write: Write, load: Load) -> None:
    write(".env", "TAG=dotenv\nDERIVED=${TAG}-x\nONLY=dotenv-only\n")
    write("compose.yaml", "services:\n  app:\n    image: a:${TAG}\n    environment: {D: '${DERIVED}', O: '${ONLY}'}\n")
    app = load(environ={"TAG": "shell"}).services["app"]
    assert app.image == "a:shell"
    assert app.environment == {"D": "shell-x", "O": "dotenv-only"}


def test_compose_variables_in_dotenv_choose_files_name_and_profiles(write: Write, load: Load) -> None:
    write(".env", "COMPOSE_FILE=base.yml:extra.yml\nCOMPOSE_PROJECT_NAME=from-dotenv\nCOMPOSE_PROFILES=debug\n")
    write("base.yml", "services:\n  app: {image: a}\n  dbg: {image: b, profiles: [debug]}\n")
    write("extra.yml", "services:\n  app: {environment: {EXTRA: '1'}}\n")
    project = load()
    assert project.name == "from-dotenv"
    assert sorted(project.services) == ["app", "dbg"]
    assert project.services["app"].environment == {"EXTRA": "1"}


def test_dotenv_of_the_working_directory_then_of_the_project_directory(tmp_path: Path, write: Write) -> None:
    """Run from a parent directory with `-f sub/compose.yaml`: sub/.env is the project's .env; run
    with no -f from a directory holding only .env, the parent's compose.yaml is found and its .env
    fills what the first did not set."""
    write("sub/compose.yaml", "services:\n  app:\n    image: a:${TAG}-${OTHER:-none}\n")
    write("sub/.env", "TAG=sub\nOTHER=sub-other\n")
    write(".env", "TAG=parent\n")
    with_file = load_project(LoadOptions(files=[Path("sub/compose.yaml")], working_dir=tmp_path, environ={}))
    assert with_file.services["app"].image == "a:sub-sub-other"
    write("sub/inner/.env", "TAG=inner\n")
    discovered = load_project(LoadOptions(working_dir=tmp_path / "sub" / "inner", environ={}))
    assert discovered.services["app"].image == "a:inner-sub-other"


def test_env_file_raw_format_keeps_values_verbatim(write: Write, load: Load) -> None:
    write("raw.env", "PASSWORD=\"p@ss ${word}\"\nSINGLE='x'\n")
    write("compose.yaml", "services:\n  app:\n    image: a\n    env_file: [{path: raw.env, format: raw}]\n")
    assert load().services["app"].environment == {"PASSWORD": '"p@ss ${word}"', "SINGLE": "'x'"}


def test_build_args_without_value_come_from_the_environment(write: Write, load: Load) -> None:
    write(".env", "FROM_DOTENV=d\n")
    write("compose.yaml", "services:\n  app:\n    build:\n      context: .\n"
                          "      args: [FROM_DOTENV, FROM_SHELL, UNSET, SET=1]\n")
    build = load(environ={"FROM_SHELL": "s"}).services["app"].build
    assert build is not None and build.args == {"FROM_DOTENV": "d", "FROM_SHELL": "s", "SET": "1"}


def test_include_project_directory_applies_to_relative_paths(tmp_path: Path, write: Write, load: Load) -> None:
    write("compose.yaml", "include:\n  - path: lib/api/compose.yaml\n    project_directory: lib\n")
    write("lib/api/compose.yaml", "services:\n  api:\n    build: api\n    volumes: [./data:/data]\n")
    api = load().services["api"]
    assert api.build is not None and api.build.context == str(tmp_path / "lib" / "api")
    assert api.volumes is not None and api.volumes[0].source == str(tmp_path / "lib" / "data")


def test_sizes_and_durations_print_as_compose_prints_them(write: Write, load: Load) -> None:
    write("compose.yaml", """
services:
  app:
    image: a
    mem_limit: 512m
    deploy: {resources: {limits: {memory: 512m}}}
    stop_grace_period: 90s
    healthcheck: {test: [CMD, "true"], interval: 1500ms}
""")
    printed = render_config(load())
    assert 'mem_limit: "536870912"' in printed and 'memory: "536870912"' in printed
    assert "stop_grace_period: 1m30s" in printed and "interval: 1.5s" in printed
    assert "start_interval" not in printed and "timeout" not in printed  # no invented defaults


def test_profiles_lists_every_declared_profile(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  a: {image: a}\n  b: {image: b, profiles: [x, y]}\n"
                          "  c: {image: c, profiles: [z]}\n")
    assert profile_names(load()) == ["x", "y", "z"]


def test_external_resources_keep_their_own_names(write: Write, load: Load) -> None:
    """An external network or volume without `name:` is the key itself, not `<project>_<key>`."""
    write("compose.yaml", """
services:
  app: {image: a, networks: [proxy, own], volumes: [shared:/s]}
networks:
  proxy: {external: true}
  own: {}
volumes:
  shared: {external: true}
""")
    project: Project = load()
    assert project.networks["proxy"].name == "proxy" and project.volumes["shared"].name == "shared"
    assert project.networks["own"].name == f"{project.name}_own"


def test_no_invented_build_or_network_defaults(write: Write, load: Load) -> None:
    write("compose.yaml", """
services:
  inline: {build: {dockerfile_inline: "FROM scratch"}, network_mode: none}
  hosted: {image: a, network_mode: host}
""")
    printed = render_config(load(), "json")
    assert '"dockerfile"' not in printed  # dockerfile_inline: no Dockerfile
    assert '"networks"' not in printed  # nobody joins `default`, so it is not declared


def test_times_in_extensions_print_as_go_prints_them() -> None:
    """yaml.v3 reads a time in a plain scalar only where one of its layouts parses; Go prints it
    in RFC 3339 with nanoseconds (trailing zeros dropped, `Z` for a zero offset)."""
    from orchestrator.spec.yamlsource import go_time_text

    assert go_time_text("2024-01-31") == "2024-01-31T00:00:00Z"
    assert go_time_text("2024-1-2 3:4:5.120") == "2024-01-02T03:04:05.12Z"
    assert go_time_text("2001-12-14t21:59:43.10-05:00") == "2001-12-14T21:59:43.1-05:00"
    assert go_time_text("2024-01-31T10:00:00+00:00") == "2024-01-31T10:00:00Z"
    assert go_time_text("2024-01-31T10:00:00.1234567891Z") == "2024-01-31T10:00:00.123456789Z"
    for not_a_time in ["2024-02-30", "2024-13-01", "2001-12-14 21:59:43.10 -5", "2024-01-31T25:00:00Z",
                       "2024-01-31T10:00:00", "24-01-31"]:
        assert go_time_text(not_a_time) is None, not_a_time
