"""`pyorch config` flags, driven through the CLI as a user types them (no engine needed)."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.spec import LoadOptions, load_project
from orchestrator.spec.confighash import config_hash
from tests.compose_diff.harness import HOME, run_pyorch

PROJECT = """
services:
  web:
    image: nginx:${TAG:-1.27}
    depends_on: [api]
    ports: ["${PORT:-8080}:80"]
  api:
    build: ./api
    profiles: [backend]
  tools:
    image: busybox
    profiles: [ops]
"""


def _env(directory: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": HOME, "PWD": str(directory), **extra}


def _write(tmp_path: Path, text: str = PROJECT) -> Path:
    (tmp_path / "compose.yaml").write_text(text)
    return tmp_path


def test_output_file_gets_what_stdout_would(tmp_path: Path) -> None:
    directory = _write(tmp_path)
    printed = run_pyorch(["--profile", "backend", "config"], directory, _env(directory))
    written = run_pyorch(["--profile", "backend", "config", "-o", str(tmp_path / "out.yaml")], directory,
                         _env(directory))
    assert printed.code == written.code == 0
    assert written.stdout == ""
    assert (tmp_path / "out.yaml").read_text() == printed.stdout


def test_quiet_validates_only(tmp_path: Path) -> None:
    directory = _write(tmp_path)
    assert run_pyorch(["--profile", "backend", "config", "-q"], directory, _env(directory)).stdout == ""
    broken = run_pyorch(["config", "-q"], directory, _env(directory))  # web depends on api, disabled
    assert broken.code != 0 and broken.stdout == ""
    assert "compose.yaml:5:" in broken.stderr and "'api'" in broken.stderr


def test_hash_lists_the_hashes_pyorch_labels_containers_with(tmp_path: Path) -> None:
    directory = _write(tmp_path)
    result = run_pyorch(["--profile", "*", "config", "--hash", "*"], directory, _env(directory))
    project = load_project(LoadOptions(working_dir=directory, profiles=["*"], environ=_env(directory)))
    assert result.stdout.splitlines() == [f"{n} {config_hash(project, n)}" for n in ("api", "tools", "web")]
    one = run_pyorch(["--profile", "*", "config", "--hash", "web"], directory, _env(directory))
    assert one.stdout == f"web {config_hash(project, 'web')}\n"
    missing = run_pyorch(["--profile", "*", "config", "--hash", "nope"], directory, _env(directory))
    assert missing.code != 0 and "no such service: nope" in missing.stderr


def test_services_named_enable_their_profiles_and_bring_their_dependencies(tmp_path: Path) -> None:
    directory = _write(tmp_path)
    result = run_pyorch(["config", "--format", "json", "api"], directory, _env(directory))
    assert list(json.loads(result.stdout)["services"]) == ["api"]
    result = run_pyorch(["--profile", "backend", "config", "--format", "json", "web"], directory, _env(directory))
    assert list(json.loads(result.stdout)["services"]) == ["api", "web"]


def test_profiles_lists_every_declared_profile(tmp_path: Path) -> None:
    directory = _write(tmp_path)
    assert run_pyorch(["--profile", "backend", "config", "--profiles"], directory,
                      _env(directory)).stdout == "backend\nops\n"


def test_no_interpolate_keeps_the_variables(tmp_path: Path) -> None:
    directory = _write(tmp_path)
    result = run_pyorch(["config", "--no-interpolate"], directory, _env(directory, TAG="9"))
    assert result.code == 0
    assert "nginx:${TAG:-1.27}" in result.stdout and "${PORT:-8080}:80" in result.stdout


def test_variables_and_environment(tmp_path: Path) -> None:
    directory = _write(tmp_path)
    (tmp_path / ".env").write_text("TAG=from-dotenv\n")
    table = run_pyorch(["--profile", "backend", "config", "--variables"], directory,
                       _env(directory)).stdout.splitlines()
    assert table[0].split() == ["NAME", "REQUIRED", "DEFAULT", "VALUE", "ALTERNATE", "VALUE"]
    assert [row.split() for row in table[1:]] == [["PORT", "false", "8080"], ["TAG", "false", "1.27"]]
    environment = run_pyorch(["--profile", "backend", "config", "--environment"], directory,
                             _env(directory, TAG="shell")).stdout
    assert "TAG=shell\n" in environment and "COMPOSE_PROJECT_NAME=" in environment


def test_unsupported_format_is_refused(tmp_path: Path) -> None:
    directory = _write(tmp_path)
    result = run_pyorch(["config", "--format", "toml"], directory, _env(directory))
    assert result.code != 0 and 'unsupported format "toml"' in result.stderr
