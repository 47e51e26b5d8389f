"""`extends` (05-services.md) and `include` (14-include.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.spec import ComposeError
from orchestrator.spec.errors import ComposeFileNotFound, CycleError
from tests.unit.spec.conftest import Load, Write


def test_extends_same_file(write: Write, load: Load) -> None:
    write("compose.yaml", """
        services:
          base:
            image: app
            environment: {A: "1", B: "1"}
            ports: ["80:80"]
            command: [base]
          web:
            extends: base
            environment: {B: "2"}
            ports: ["81:81"]
            command: [web]
    """)
    web = load().services["web"]
    assert web.image == "app"
    assert web.environment == {"A": "1", "B": "2"}
    assert [p.published for p in web.ports or []] == ["80", "81"]
    assert web.command == ["web"]
    assert web.extends is None


def test_extends_chain_and_other_file(write: Write, load: Load, tmp_path: Path) -> None:
    write("common/base.yaml", """
        services:
          root: {image: root, labels: {root: "1"}, volumes: ["./data:/data"]}
          mid: {extends: root, labels: {mid: "1"}}
    """)
    write("compose.yaml", """
        services:
          web:
            extends: {file: common/base.yaml, service: mid}
            labels: {web: "1"}
    """)
    web = load().services["web"]
    assert web.image == "root"
    assert web.labels == {"root": "1", "mid": "1", "web": "1"}
    # relative paths of the extended file resolve against that file's directory
    assert web.volumes is not None and web.volumes[0].source == str(tmp_path / "common" / "data")


def test_extends_does_not_import_other_services(write: Write, load: Load) -> None:
    write("base.yaml", "services:\n  root: {image: r}\n  other: {image: o}\n")
    write("compose.yaml", "services:\n  web: {extends: {file: base.yaml, service: root}}\n")
    assert list(load().services) == ["web"]


def test_extends_with_reset(write: Write, load: Load) -> None:
    write("compose.yaml", """
        services:
          base: {image: x, ports: ["80:80"], environment: {A: "1"}}
          web:
            extends: base
            ports: !reset []
    """)
    web = load().services["web"]
    assert web.ports is None and web.environment == {"A": "1"}


@pytest.mark.parametrize("text", [
    "services:\n  a: {image: x, extends: a}\n",
    "services:\n  a: {image: x, extends: b}\n  b: {image: x, extends: a}\n",
])
def test_extends_cycles_are_refused(write: Write, load: Load, text: str) -> None:
    write("compose.yaml", text)
    with pytest.raises(CycleError, match="extends cycle") as info:
        load()
    assert info.value.location is not None and info.value.location.line is not None


def test_extends_cycle_across_files(write: Write, load: Load) -> None:
    write("other.yaml", "services:\n  b: {image: x, extends: {file: compose.yaml, service: a}}\n")
    write("compose.yaml", "services:\n  a: {image: x, extends: {file: other.yaml, service: b}}\n")
    with pytest.raises(CycleError):
        load()


def test_extends_unknown_service(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  a:\n    image: x\n    extends: ghost\n")
    with pytest.raises(ComposeError, match="undefined service 'ghost'") as info:
        load()
    assert info.value.location is not None and info.value.location.line == 4


def test_extends_missing_file(write: Write, load: Load) -> None:
    write("compose.yaml", "services:\n  a: {image: x, extends: {file: nope.yaml, service: b}}\n")
    with pytest.raises(ComposeFileNotFound):
        load()


# --- include -------------------------------------------------------------------------------------------

def test_include_brings_resources_with_own_env_and_paths(write: Write, load: Load, tmp_path: Path) -> None:
    write("db/compose.yaml", """
        services:
          db:
            image: "postgres:${PG_TAG}"
            volumes: ["./init:/init", "data:/var/lib/postgresql/data"]
            environment: {WHO: "${WHO}"}
        volumes: {data: {}}
    """)
    write("db/.env", "PG_TAG=16\nWHO=included")
    write("compose.yaml", """
        include: [db/compose.yaml]
        services:
          web: {image: x, depends_on: [db]}
    """)
    project = load(environ={"WHO": "parent"})
    assert sorted(project.services) == ["db", "web"]
    db = project.services["db"]
    assert db.image == "postgres:16"
    assert db.environment == {"WHO": "parent"}  # the including project's environment wins
    assert db.volumes is not None and db.volumes[0].source == str(tmp_path / "db" / "init")
    assert "data" in project.volumes


def test_include_long_form(write: Write, load: Load, tmp_path: Path) -> None:
    write("lib/a.yaml", "services: {a: {image: 'a:${T}'}}\n")
    write("lib/b.yaml", "services: {a: {hostname: h}}\n")
    write("lib/vars.env", "T=7")
    write("compose.yaml", """
        include:
          - path: [lib/a.yaml, lib/b.yaml]
            env_file: lib/vars.env  # relative to the including project, as compose-go resolves it
            project_directory: lib
        services: {}
    """)
    a = load().services["a"]
    assert a.image == "a:7" and a.hostname == "h"


def test_include_conflict_is_an_error(write: Write, load: Load) -> None:
    write("other.yaml", "services: {web: {image: other}}\n")
    write("compose.yaml", "include: [other.yaml]\nservices: {web: {image: mine}}\n")
    with pytest.raises(ComposeError, match="service 'web' is defined both here and in an included file"):
        load()


def test_include_cycle(write: Write, load: Load) -> None:
    write("a.yaml", "include: [b.yaml]\nservices: {a: {image: x}}\n")
    write("b.yaml", "include: [a.yaml]\nservices: {b: {image: x}}\n")
    with pytest.raises(CycleError, match="include cycle"):
        load(files=[Path("a.yaml")])


def test_include_missing_file(write: Write, load: Load) -> None:
    write("compose.yaml", "include: [nope.yaml]\nservices: {}\n")
    with pytest.raises(ComposeFileNotFound) as info:
        load()
    assert info.value.location is not None and info.value.location.line == 1


def test_errors_in_an_included_file_point_into_it(write: Write, load: Load) -> None:
    write("lib/compose.yaml", "services:\n  db:\n    image: x\n    mem_limit: huge\n")
    write("compose.yaml", "include: [lib/compose.yaml]\nservices: {}\n")
    with pytest.raises(ComposeError) as info:
        load()
    assert info.value.location is not None
    assert info.value.location.file.endswith("lib/compose.yaml") and info.value.location.line == 4
