"""Volumes against the real kernel: an empty volume gets the image's files (owners and modes kept),
`nocopy`, an image's VOLUME paths as anonymous volumes, and the local driver's bind and tmpfs options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.container.runconfig import AnonymousVolumes, Mount, RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.image.bootstrap import build_busybox_rootfs
from runtime.image.config import ImageConfig
from runtime.volume import VolumeConflict, VolumeOptionError
from tests.integration.container.test_isolation import run_to_exit, texts

pytestmark = pytest.mark.root
LIST = "cd /srv/data && find . | sort | while read f; do echo \"$f $(stat -c '%a %u:%g' $f)\"; done"


@pytest.fixture
def data_image(rt: ContainerRuntime, tmp_path: Path) -> str:
    """busybox with /srv/data (owned 33:33, mode 0750) holding a file, a subdirectory and a symlink."""
    root = tmp_path / "rootfs"
    root.mkdir()
    build_busybox_rootfs(root)
    data = root / "srv/data"
    (data / "sub").mkdir(parents=True)
    (data / "seed.txt").write_text("from the image\n")
    (data / "sub/deep.txt").write_text("deep\n")
    (data / "link").symlink_to("/etc/passwd")
    for path in (data, data / "sub", data / "seed.txt", data / "sub/deep.txt"):
        os.chown(path, 33, 33)
    os.lchown(data / "link", 33, 33)
    data.chmod(0o750)
    (data / "seed.txt").chmod(0o640)
    reference = "pyorch.local/test-volume-data:1"
    rt.images.import_rootfs(root, reference, ImageConfig(cmd=["sh"], volumes=["/srv/data"]))
    return reference


def test_an_empty_named_volume_gets_the_images_files_with_owners_and_modes(rt: ContainerRuntime,
                                                                            data_image: str) -> None:
    _, log = run_to_exit(rt, RunConfig(name="copy", image=data_image, command=["sh", "-c", LIST],
                                       mounts=[Mount("volume", "/srv/data", "t_copied")]))
    assert texts(log) == [". 750 33:33", "./link 777 33:33", "./seed.txt 640 33:33", "./sub 755 33:33",
                          "./sub/deep.txt 644 33:33"], log
    host = rt.volumes.get("t_copied").mountpoint
    assert (host / "seed.txt").read_text() == "from the image\n"
    assert os.readlink(host / "link") == "/etc/passwd"  # a symlink stays a symlink, never followed
    # a volume that has content keeps it: nothing is copied over it again
    (host / "seed.txt").write_text("changed\n")
    (host / "sub/deep.txt").unlink()
    _, log = run_to_exit(rt, RunConfig(name="again", image=data_image, command=["cat", "/srv/data/seed.txt"],
                                       mounts=[Mount("volume", "/srv/data", "t_copied")]))
    assert texts(log) == ["changed"]
    assert not (host / "sub/deep.txt").exists()


def test_nocopy_leaves_a_new_volume_empty(rt: ContainerRuntime, data_image: str) -> None:
    _, log = run_to_exit(rt, RunConfig(name="nocopy", image=data_image, command=["ls", "-A", "/srv/data"],
                                       mounts=[Mount("volume", "/srv/data", "t_empty", copy_image_content=False)]))
    assert texts(log) == []
    assert list(rt.volumes.get("t_empty").mountpoint.iterdir()) == []


def test_image_volumes_become_anonymous_volumes_that_a_recreated_container_finds(rt: ContainerRuntime,
                                                                                  data_image: str) -> None:
    anonymous = AnonymousVolumes("t_svc_1_anon_", {"com.docker.volume.anonymous": ""})
    script = "echo kept > /srv/data/new.txt; cat /srv/data/seed.txt"
    first, log = run_to_exit(rt, RunConfig(name="first", image=data_image, image_volumes=anonymous,
                                           command=["sh", "-c", script]))
    assert texts(log) == ["from the image"]
    name = anonymous.name_for("/srv/data")
    volume = rt.volumes.get(name)
    assert volume.anonymous and (volume.mountpoint / "new.txt").read_text() == "kept\n"
    assert [c.id for c in rt.volume_users()[name]] == [first.id]
    rt.remove(first.id)  # the replica is replaced; its anonymous volume stays
    _, log = run_to_exit(rt, RunConfig(name="second", image=data_image, image_volumes=anonymous,
                                       command=["cat", "/srv/data/new.txt"]))
    assert texts(log) == ["kept"]
    # without AnonymousVolumes (a build step) the VOLUME path is just part of the root filesystem
    before = {v.name for v in rt.volumes.list()}
    _, log = run_to_exit(rt, RunConfig(name="build-step", image=data_image, command=["cat", "/srv/data/seed.txt"]))
    assert texts(log) == ["from the image"] and {v.name for v in rt.volumes.list()} == before


def test_local_driver_bind_and_tmpfs_options(rt: ContainerRuntime, data_image: str, tmp_path: Path) -> None:
    device = tmp_path / "device"
    device.mkdir()
    bind = {"type": "none", "o": "bind", "device": str(device)}
    _, log = run_to_exit(rt, RunConfig(name="bind", image=data_image,
                                       command=["sh", "-c", "echo w > /srv/data/w; ls /srv/data"],
                                       mounts=[Mount("volume", "/srv/data", "t_bound", volume_options=bind)]))
    assert sorted(texts(log)) == ["link", "seed.txt", "sub", "w"]  # filled from the image, as Docker does
    assert (device / "w").read_text() == "w\n"
    tmpfs = {"type": "tmpfs", "device": "tmpfs", "o": "size=1048576,mode=1777"}
    script = "grep ' /srv/data ' /proc/mounts | cut -d' ' -f1,3; stat -c %a /srv/data; cat /srv/data/seed.txt"
    _, log = run_to_exit(rt, RunConfig(name="tmpfs", image=data_image, command=["sh", "-c", script],
                                       mounts=[Mount("volume", "/srv/data", "t_scratch", volume_options=tmpfs)]))
    assert texts(log) == ["tmpfs tmpfs", "750", "from the image"], log  # the image's owner and mode win, as Docker
    assert list(rt.volumes.get("t_scratch").mountpoint.iterdir()) == []  # nothing on the host
    assert rt.volumes.get("t_scratch").options == tmpfs
    with pytest.raises(VolumeConflict, match="exists with driver options"):
        rt.create(RunConfig(name="conflict", image=data_image, command=["true"],
                            mounts=[Mount("volume", "/srv/data", "t_scratch", volume_options=bind)]))
    for options, message in (({"type": "nfs", "o": "addr=10.0.0.1", "device": ":/x"}, "type 'nfs' is not supported"),
                             ({"type": "none", "o": "bind", "device": "rel"}, "absolute host path"),
                             ({"type": "tmpfs", "o": "noexec"}, "tmpfs option 'noexec' not supported"),
                             ({"colour": "blue"}, "driver_opts colour not supported")):
        with pytest.raises(VolumeOptionError, match=message):
            rt.create(RunConfig(name="bad", image=data_image, command=["true"],
                                mounts=[Mount("volume", "/srv/data", "t_bad", volume_options=options)]))
    assert "t_bad" not in {v.name for v in rt.volumes.list()}
