"""Pure parts of the Compose verbs in the CLI: --since forms, run's -e, wait, attached up's end, --rmi."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli.cmd_compose import env_entries, first_exit, project_images
from orchestrator.cli.logtime import parse_instant, record_time
from orchestrator.cli.render import prefix_color
from orchestrator.cli.replicas import parse_scale
from orchestrator.errors import PyorchError
from orchestrator.spec import LoadOptions, Project, load_project


def load(tmp_path: Path, text: str) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path, environ={}))


def test_since_forms() -> None:
    now = 1_800_000_000.0
    assert parse_instant("1700000000", now) == 1_700_000_000.0
    assert parse_instant("42m", now) == now - 42 * 60
    assert parse_instant("1h30m", now) == now - 5400
    assert parse_instant("2026-01-02T03:04:05Z", now) == 1767323045.0
    assert parse_instant("2026-01-02", now) == 1767312000.0
    with pytest.raises(PyorchError, match="invalid time"):
        parse_instant("yesterday", now)


def test_record_time_keeps_sub_second_precision_from_nanoseconds() -> None:
    assert record_time("2026-01-02T03:04:05.123456789Z") == pytest.approx(1767323045.123456)
    assert record_time("2026-01-02T04:04:05.5+01:00") == pytest.approx(1767323045.5)


def test_env_entries_take_bare_keys_from_the_environment() -> None:
    assert env_entries(["A=1", "B", "C"], {"B": "two"}) == ["A=1", "B=two"]


def test_parse_scale_cli() -> None:
    assert parse_scale(["a=2"]) == {"a": 2}
    with pytest.raises(PyorchError):
        parse_scale(["a"])


def row(name: str, service: str, status: str, code: int | None = None) -> dict[str, Any]:
    return {"name": name, "service": service, "status": status, "exit_code": code}


def test_wait_records_exits_in_order_until_all_exited() -> None:
    seen: dict[str, int] = {}
    assert not first_exit([row("a-1", "a", "exited", 3), row("a-2", "a", "running"), row("b-1", "b", "running")],
                          ["a"], seen)
    assert first_exit([row("a-1", "a", "running"), row("a-2", "a", "exited", 0)], ["a"], seen)
    assert list(seen.items()) == [("a-1", 3), ("a-2", 0)]  # the first exit decides the code


def test_rmi_local_is_only_images_built_for_services_without_image(tmp_path: Path) -> None:
    project = load(tmp_path, "name: p\nservices:\n  a:\n    image: x:1\n  b:\n    build: .\n")
    assert project_images(project, "local") == ["p-b"]
    assert project_images(project, "all") == ["p-b", "x:1"]


def test_prefix_colors_are_stable_per_container() -> None:
    assert prefix_color("p-web-1") == prefix_color("p-web-1")
    assert len({prefix_color(f"p-web-{i}") for i in range(20)}) > 1


def test_quick_project_name_finds_the_files_as_compose_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -f: compose.yaml here or in a parent, with its override; no `name:`: the directory's
    name. Whatever the quick way answers is what the full load answers."""
    from orchestrator.cli.quickname import quick_project_name

    def load(_: Any) -> Project:
        return load_project(LoadOptions(files=[], working_dir=Path.cwd(), environ={}))

    project = tmp_path / "My_Proj.1"
    (project / "sub").mkdir(parents=True)
    (project / "compose.yaml").write_text("services:\n  a:\n    image: x\n")
    monkeypatch.chdir(project / "sub")
    plain = _args(tmp_path, [])
    assert quick_project_name(plain, {}) == "my_proj1" == load(plain).name
    (project / "compose.override.yaml").write_text("name: over\n")
    assert quick_project_name(plain, {}) == "over" == load(plain).name
    assert quick_project_name(plain, {"COMPOSE_PROJECT_NAME": "env"}) == "env"
    assert quick_project_name(plain, {"COMPOSE_FILE": "x.yaml"}) is None  # the full load decides
    (project / "docker-compose.yml").write_text("services: {}\n")
    assert quick_project_name(plain, {}) is None  # two default names: the load warns, let it
    (project / "docker-compose.yml").unlink()
    (project / ".env").write_text("COMPOSE_PROJECT_NAME=dotenv\n")
    assert quick_project_name(plain, {}) is None
    monkeypatch.chdir(tmp_path)  # no compose file here or above: the full load reports it
    assert quick_project_name(plain, {}) is None


def _args(tmp_path: Path, files: list[str], project_name: str | None = None) -> Any:
    import argparse

    return argparse.Namespace(project_name=project_name, file=[str(tmp_path / f) for f in files], env_file=[],
                              project_directory=None)


def test_quick_project_name_only_when_plain(tmp_path: Path) -> None:
    from orchestrator.cli.quickname import quick_project_name

    (tmp_path / "a.yaml").write_text("name: first  # comment\nservices: {}\n")
    (tmp_path / "b.yaml").write_text("services: {}\nname: second\n")
    (tmp_path / "c.yaml").write_text("name: ${NAME:-x}\n")
    assert quick_project_name(_args(tmp_path, ["a.yaml"]), {}) == "first"
    assert quick_project_name(_args(tmp_path, ["a.yaml", "b.yaml"]), {}) == "second"  # the last file wins
    assert quick_project_name(_args(tmp_path, ["a.yaml"], "given"), {}) == "given"  # -p first
    assert quick_project_name(_args(tmp_path, ["a.yaml"]), {"COMPOSE_PROJECT_NAME": "env"}) == "env"
    assert quick_project_name(_args(tmp_path, ["c.yaml"]), {}) is None  # interpolation: load it
    assert quick_project_name(_args(tmp_path, ["a.yaml"], "Bad Name"), {}) is None
    (tmp_path / ".env").write_text("COMPOSE_PROJECT_NAME=fromdotenv\n")
    assert quick_project_name(_args(tmp_path, ["a.yaml"]), {}) is None


def test_a_verb_that_needs_the_name_prints_no_warning_about_unapplied_keys(tmp_path: Path, capsys: Any) -> None:
    """Loading the files for the project's name (here `.env` forces a full load) repeats only the
    warnings about the files themselves, not what `up` would not apply, at every command."""
    from orchestrator.cli.project_args import load, project_name

    (tmp_path / "compose.yaml").write_text("name: shop\nservices:\n  web:\n    image: busybox\n"
                                           "    expose: ['80']\n    environment: {A: $UNSET_IN_TEST}\n")
    (tmp_path / ".env").write_text("B=1\n")
    args = _args(tmp_path, ["compose.yaml"])
    args.profile = []
    assert project_name(args) == "shop"
    quiet = capsys.readouterr().err
    assert "UNSET_IN_TEST" in quiet and "not applied" not in quiet
    load(args)
    assert "key 'expose' is accepted but not applied yet" in capsys.readouterr().err
