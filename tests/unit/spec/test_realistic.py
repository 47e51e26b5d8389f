"""Realistic projects (and every compose example) load, and round-trip through `pyorch config`.

The projects under `projects/` are written in the styles people use: anchors and merge keys,
`.env` files, override files found next to the main file, `extends` from a shared file,
`include` with its own env file, profiles. The printed canonical form must load back into the
same model, in YAML and in JSON.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.spec import LoadOptions, Project, load_project
from orchestrator.spec.model import without_extensions
from orchestrator.spec.render import hashes, render_config

HERE = Path(__file__).parent
REPO = HERE.parents[2]
PROJECTS = sorted(p for p in (HERE / "projects").iterdir() if p.is_dir())
EXAMPLES = sorted(p for p in (REPO / "compose-examples").iterdir() if (p / "compose.yaml").exists())
ENVIRON = {"HOME": "/root", "GRAFANA_ADMIN_PASSWORD": "pw"}
PROFILES = ["ops", "setup", "debug"]


def _load(directory: Path, files: list[Path] | None = None) -> Project:
    return load_project(LoadOptions(files=files or [], working_dir=directory, project_directory=directory,
                                     environ=dict(ENVIRON), profiles=list(PROFILES)))


@pytest.mark.parametrize("directory", PROJECTS + EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_through_config(directory: Path, fmt: str, tmp_path: Path) -> None:
    project = _load(directory)
    printed = tmp_path / f"printed.{fmt}"
    printed.write_text(render_config(project, fmt))
    again = _load(directory, [printed])
    # The engine gets the same services (so the same containers, same hashes; Compose's JSON
    # carries no `x-*` keys below the top level) ...
    def services(p: Project) -> object:
        dump = p.model_dump(mode="json", include={"services"}, exclude_none=True)
        return without_extensions(dump) if fmt == "json" else dump

    assert services(again) == services(project)
    assert hashes(again) == hashes(project)
    # ... and printing the reloaded project gives the same text: the canonical form is a fixed point.
    assert render_config(again, fmt) == render_config(project, fmt)


def test_blog_anchors_and_dotenv() -> None:
    blog = _load(HERE / "projects" / "blog")
    db, wordpress = blog.services["db"], blog.services["wordpress"]
    assert db.environment is not None and db.environment["MARIADB_PASSWORD"] == "s3cr3t with spaces"
    assert db.environment["TZ"] == "Europe/Paris" and db.environment["LOG_LEVEL"] == "info"
    assert wordpress.restart == db.restart == "unless-stopped"
    assert [p.published for p in wordpress.ports or []] == ["8088"]
    assert "backup" in blog.services  # enabled by the ops profile
    assert blog.services["backup"].command is not None and "$(date" in " ".join(blog.services["backup"].command)


def test_blog_without_its_password_names_the_variable(tmp_path: Path) -> None:
    from orchestrator.spec import ComposeError

    (tmp_path / "compose.yaml").write_text((HERE / "projects" / "blog" / "compose.yaml").read_text())
    with pytest.raises(ComposeError, match="DB_PASSWORD"):
        _load(tmp_path)


def test_shop_extends_and_include() -> None:
    shop = _load(HERE / "projects" / "shop")
    catalog, payments = shop.services["catalog"], shop.services["payments"]
    assert catalog.image == "registry.example.com/shop/python-base:3.12"
    assert catalog.environment is not None and catalog.environment["PYTHONUNBUFFERED"] == "1"
    assert catalog.replicas == 2
    assert payments.image == "registry.example.com/shop/payments:2.3.1"
    assert payments.environment == {"PROVIDER": "stripe-test"}
    assert "pci" in shop.networks and shop.networks["pci"].internal


def test_devstack_override_file_is_merged() -> None:
    dev = _load(HERE / "projects" / "devstack")
    app = dev.services["app"]
    assert app.environment == {"NODE_ENV": "development", "DEBUG": "app:*"}
    assert [p.published for p in app.ports or []] == ["3001"]
    assert app.command == ["npm", "run", "dev"]
    assert not dev.services["redis"].command
