"""Volumes as a Compose user meets them: a named volume filled from the image (owner and mode
kept), an image's VOLUME as an anonymous volume that survives recreation, the local driver's tmpfs
and bind options, `volume ls/inspect/rm/prune`, `volumes`, and unsupported options refused with
file:line before anything starts."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch, write

pytestmark = pytest.mark.root
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


def test_volumes_from_the_image_and_driver_options_and_the_volume_verbs(layout: HostLayout, tmp_path: Path) -> None:
    name = "vols" + secrets.token_hex(3)
    host_dir = tmp_path / "hostdir"
    host_dir.mkdir()
    file = write(tmp_path, f"""
name: {name}
services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM pyorch.local/busybox:latest
        RUN mkdir -p /srv/seed /srv/cache && echo seeded > /srv/seed/file && chown -R 33:33 /srv/seed \\
            && chmod 750 /srv/seed
        VOLUME /srv/cache
    command: ["sh", "-c", "{LOOP}"]
    volumes:
      - data:/srv/seed
      - scratch:/scratch
      - hostdir:/host
volumes:
  data: {{}}
  scratch:
    driver_opts: {{type: tmpfs, device: tmpfs, o: "size=1m"}}
  hostdir:
    driver_opts: {{type: none, o: bind, device: {host_dir}}}
""")
    pyorch(layout, "image", "bootstrap")
    anonymous = ""
    try:
        pyorch(layout, "-f", file, "up", "-d")
        script = ("cat /srv/seed/file; stat -c '%a %u:%g' /srv/seed; grep ' /scratch ' /proc/mounts | cut -d' ' -f3; "
                  "echo from-container > /host/written; echo kept > /srv/cache/keep")
        shown = pyorch(layout, "-f", file, "exec", "app", "sh", "-c", script).stdout.split()
        assert shown == ["seeded", "750", "33:33", "tmpfs"]
        assert (host_dir / "written").read_text() == "from-container\n"

        listed = pyorch(layout, "volume", "ls", "-q").stdout.split()
        anonymous = next(v for v in listed if v.startswith(f"{name}_app_1_anon_"))
        assert {f"{name}_data", f"{name}_scratch", f"{name}_hostdir", anonymous} <= set(listed)
        assert set(pyorch(layout, "-f", file, "volumes", "-q").stdout.split()) == {
            f"{name}_data", f"{name}_scratch", f"{name}_hostdir", anonymous}
        data, scratch = json.loads(pyorch(layout, "volume", "inspect", f"{name}_data", f"{name}_scratch").stdout)
        assert data["Labels"] == {"com.docker.compose.project": name, "com.docker.compose.volume": "data"}
        assert data["Driver"] == "local" and data["Options"] is None and data["Scope"] == "local"
        assert data["Mountpoint"] == str(layout.volumes_dir / f"{name}_data" / "_data")
        assert scratch["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}

        # the image's VOLUME is kept when the container is recreated
        pyorch(layout, "-f", file, "up", "-d", "--force-recreate")
        assert pyorch(layout, "-f", file, "exec", "app", "cat", "/srv/cache/keep").stdout == "kept\n"
        # a one-off `run` gets anonymous volumes of its own (not replica 1's), gone with --rm
        ran = pyorch(layout, "-f", file, "run", "--rm", "app", "ls", "-A", "/srv/cache")
        assert ran.stdout == "", ran.stdout
        assert [v for v in pyorch(layout, "volume", "ls", "-q").stdout.split() if "_run_" in v] == []

        refused = pyorch(layout, "volume", "rm", f"{name}_data", check=False)
        assert refused.returncode == 1 and f"remove {name}_data: volume is in use - [{name}-app-1]" in refused.stderr
        pyorch(layout, "-f", file, "down")
        assert f"{name}_data" in pyorch(layout, "volume", "ls", "-q", "--filter", "dangling=true").stdout.split()
        pruned = pyorch(layout, "volume", "prune", "-f").stdout
        assert anonymous in pruned and f"{name}_data" not in pruned  # named volumes stay without -a
        assert pyorch(layout, "volume", "rm", f"{name}_data").stdout.split() == [f"{name}_data"]
        pyorch(layout, "volume", "prune", "-a", "--filter", f"label=com.docker.compose.project={name}")
        assert pyorch(layout, "-f", file, "volumes", "-q").stdout.split() == []
        assert host_dir.joinpath("written").exists()  # a bind volume's host directory is never deleted
        missing = pyorch(layout, "volume", "inspect", "nosuchvolume", check=False)
        assert missing.returncode == 1 and "no such volume: nosuchvolume" in missing.stderr
    finally:
        pyorch(layout, "-f", file, "down", "-v", check=False)
        pyorch(layout, "rmi", f"{name}-app", check=False)


def test_unsupported_driver_options_are_refused_with_file_and_line(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, f"""
name: nfsvol
services:
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "{LOOP}"]
    volumes: [shared:/shared]
volumes:
  shared:
    driver_opts:
      type: nfs
      o: addr=192.0.2.10,rw
      device: ":/exports"
""")
    failed = pyorch(layout, "-f", file, "up", "-d", check=False)
    assert failed.returncode == 15
    assert f"{file}:11:13: volume 'shared': driver_opts type 'nfs' is not supported" in failed.stderr
    assert "nfs" in pyorch(layout, "-f", file, "config").stdout  # valid Compose: config renders it
    assert json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout) == []
