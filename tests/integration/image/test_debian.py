"""`pyorch.local/debian`: debootstrap from the host's mirror, reproducible, and it runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.image import ImageStore
from runtime.image.debian import CACHE_DIR, ensure_debian_image, host_plan, release_epoch
from runtime.layout import HostLayout
from tests.helpers import pyorch
from tests.integration.container.test_isolation import run_to_exit, texts

pytestmark = pytest.mark.root


def test_same_packages_give_the_same_layer_and_the_tree_is_clean(debian_image: str, shared_images: Path,
                                                                  tmp_path: Path) -> None:
    shared = ImageStore(shared_images)
    first = shared.resolve(debian_image)
    plan = host_plan()
    assert debian_image == f"pyorch.local/debian:{plan.suite}"
    cache = shared_images / CACHE_DIR
    # A second store, the same downloaded packages (nothing is fetched): the same layer digest.
    again = ImageStore(tmp_path / "images")
    assert ensure_debian_image(again, cache_dir=cache) == debian_image
    second = again.resolve(debian_image)
    assert second.id == first.id and second.manifest_digest == first.manifest_digest
    assert first.config.cmd == ["bash"]

    layer = first.layer_dirs[0]
    assert (layer / "etc/apt/sources.list").read_text() == plan.sources_list
    assert f"deb {plan.mirror.uri} {plan.suite} " in plan.sources_list
    assert "exit 101" in (layer / "usr/sbin/policy-rc.d").read_text()
    for gone in ("var/log/dpkg.log", "var/cache/ldconfig/aux-cache", "etc/resolv.conf", "etc/hostname"):
        assert not (layer / gone).exists(), gone
    assert sorted(p.name for p in (layer / "var/lib/apt/lists").iterdir()) == ["partial"]
    assert not list((layer / "dev").iterdir())
    epoch = release_epoch(next(cache.glob("*.tgz")))
    newer = [str(path) for path in layer.rglob("*") if os.lstat(path).st_mtime > epoch]
    assert newer == []
    shadow_days = {line.split(":")[2] for line in (layer / "etc/shadow").read_text().splitlines()}
    assert shadow_days == {str(epoch // 86400)}  # the password dates are the packages' date, not today


def test_the_debian_image_runs_and_the_cli_bootstraps_it(debian_image: str, rt: ContainerRuntime,
                                                         layout: HostLayout) -> None:
    script = "cat /etc/debian_version; id -un _apt; apt-get --version | head -1; ls /var/lib/dpkg/info | grep -c list"
    info, log = run_to_exit(rt, RunConfig(name="deb", image=debian_image, command=["bash", "-c", script]))
    lines = texts(log)
    assert info.exit_code == 0, log
    assert lines[0][:2].isdigit() and lines[1] == "_apt" and lines[2].startswith("apt ")
    assert int(lines[3]) > 50  # the minbase packages are installed, not just unpacked
    assert pyorch(layout, "image", "bootstrap", "debian").stdout.split() == [debian_image]
    refused = pyorch(layout, "image", "bootstrap", "nosuch", check=False)
    assert refused.returncode != 0 and "no base image nosuch (choose from busybox, python, debian)" in refused.stderr
