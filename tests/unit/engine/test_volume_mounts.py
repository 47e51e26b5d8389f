"""Compose volumes → runtime mounts (names, labels, nocopy, external, driver options), and the
refusals: unsupported driver options with file:line at load time, conflicts at `up`."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.translate import run_config
from orchestrator.engine.volume_mounts import check_volumes
from orchestrator.errors import EngineError
from orchestrator.spec import LoadOptions, Project, load_project
from orchestrator.spec.errors import UnsupportedError
from runtime.container.runconfig import AnonymousVolumes, Mount
from runtime.volume import VolumeStore


def load(tmp_path: Path, text: str, render_only: bool = False) -> Project:
    (tmp_path / "compose.yaml").write_text(text)
    return load_project(LoadOptions(files=[tmp_path / "compose.yaml"], working_dir=tmp_path, environ={},
                                    render_only=render_only))


COMPOSE = """
name: shop
services:
  db:
    image: postgres
    volumes:
      - pgdata:/var/lib/postgresql/data
      - type: volume
        source: cache
        target: /cache
        volume: {nocopy: true}
      - /scratch
      - shared:/shared:ro
volumes:
  pgdata:
    labels: {tier: data}
  cache:
    driver_opts: {type: tmpfs, device: tmpfs, o: "size=64m,uid=999"}
  shared:
    external: true
    name: team-shared
"""


def test_named_anonymous_external_and_option_volumes(tmp_path: Path) -> None:
    project = load(tmp_path, COMPOSE)
    config = run_config(project, project.services["db"], "shop-db-2", 2, 1)
    anonymous = AnonymousVolumes("shop_db_2_anon_", {"com.docker.compose.project": "shop",
                                                      "com.docker.volume.anonymous": ""})
    assert config.image_volumes == anonymous
    project_label = {"com.docker.compose.project": "shop"}
    assert config.mounts == [
        Mount("volume", "/var/lib/postgresql/data", "shop_pgdata", volume_options={},
              volume_labels={"tier": "data", **project_label, "com.docker.compose.volume": "pgdata"}),
        Mount("volume", "/cache", "shop_cache",
              volume_options={"type": "tmpfs", "device": "tmpfs", "o": "size=64m,uid=999"},
              volume_labels={**project_label, "com.docker.compose.volume": "cache"}, copy_image_content=False),
        Mount("volume", "/scratch", anonymous.name_for("/scratch"), volume_labels=anonymous.labels),
        Mount("volume", "/shared", "team-shared", read_only=True, volume_options=None),
    ]
    assert anonymous.name_for("/scratch").startswith("shop_db_2_anon_")


def test_up_refuses_a_missing_external_volume_and_changed_options(tmp_path: Path) -> None:
    project = load(tmp_path, COMPOSE)
    store = VolumeStore(tmp_path / "volumes")
    with pytest.raises(EngineError, match="volume team-shared declared as external, but could not be found"):
        check_volumes(project, store)
    store.ensure("team-shared")
    check_volumes(project, store)
    store.ensure("shop_cache", {"type": "tmpfs", "o": "size=1m"})
    with pytest.raises(EngineError, match=r"volume shop_cache exists with driver options .* remove it"):
        check_volumes(project, store)


@pytest.mark.parametrize(("volume", "line", "message"), [
    ("    driver: rexray\n", 6, "driver 'rexray' is not supported"),
    ("    driver_opts:\n      type: nfs\n      o: addr=10.0.0.1\n      device: ':/exports'\n", 7,
     "type 'nfs' is not supported"),
    ("    driver_opts:\n      type: none\n      o: bind,nosuid\n      device: /srv\n", 8, "o: of a bind volume"),
    ("    driver_opts:\n      type: tmpfs\n      o: size=1m,noexec\n", 8, "tmpfs option 'noexec'"),
    ("    driver_opts:\n      type: none\n      o: bind\n      device: relative\n", 9, "absolute host path"),
    ("    driver_opts:\n      colour: blue\n", 7, "driver_opts 'colour' is not supported"),
])
def test_unsupported_driver_options_are_refused_with_file_and_line(tmp_path: Path, volume: str, line: int,
                                                                    message: str) -> None:
    text = f"services:\n  db:\n    image: x\nvolumes:\n  data:\n{volume}"
    with pytest.raises(UnsupportedError, match=message) as caught:
        load(tmp_path, text)
    assert caught.value.location is not None and caught.value.location.line == line
    assert str(caught.value).startswith(f"{tmp_path / 'compose.yaml'}:{line}:")
    load(tmp_path, text, render_only=True)  # `config` still renders the valid file
