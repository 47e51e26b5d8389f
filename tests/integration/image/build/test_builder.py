"""The builder as root on the real kernel: RUN in pyorch containers, layers, cache, errors."""

from __future__ import annotations

import os
import secrets
import shutil
import tarfile
import time
from pathlib import Path

import pytest

from runtime.container.runconfig import RunConfig
from runtime.container.runtime import ContainerRuntime
from runtime.image.build import Builder, BuildError, BuildEvent, BuildRequest, DockerfileError

pytestmark = pytest.mark.root

MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG BASE=pyorch.local/busybox:latest
FROM ${BASE} AS build
ARG TOKEN
WORKDIR /src
COPY . ./
RUN cat /proc/sys/kernel/random/uuid > stamp && echo "$TOKEN" > token && mkdir gone && touch gone/x \\
    && rm /www/index.html
RUN rm -r gone && echo built > result
FROM pyorch.local/busybox:latest
ENV GREETING="hello there"
COPY --from=build --chown=www-data:www-data /src/result /src/stamp /src/token /app/
COPY --chmod=0640 --from=build /src/notes.txt /app/notes.txt
ADD bundle.tar /opt/
USER nobody
WORKDIR /app
CMD ["sh", "-c", "echo $GREETING; id -u; pwd; cat result token; ls /src /www 2>&1; \\
     stat -c '%U %a' result notes.txt; cat /opt/inside/file; ls -A /app"]
"""


def run_image(rt: ContainerRuntime, image: str) -> tuple[int | None, list[str]]:
    info = rt.create(RunConfig(name="check", image=image))
    rt.start(info.id)
    deadline = time.monotonic() + 30
    while rt.inspect(info.id).status != "exited":
        assert time.monotonic() < deadline, "container did not exit"
        time.sleep(0.02)
    lines = [line.split(" ", 3)[3] for line in rt.log_path(info.id).read_text().splitlines()]
    code = rt.inspect(info.id).exit_code
    rt.remove(info.id)
    return code, lines


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_multi_stage_build_runs_and_rebuild_hits_the_cache(rt: ContainerRuntime, tmp_path: Path) -> None:
    context = _context(tmp_path, MULTI_STAGE)
    (context / "notes.txt").write_text("notes\n")
    (context / "secret.key").write_text("do not ship\n")
    (context / "logs").mkdir()
    (context / "logs" / "a.log").write_text("log\n")
    (context / ".dockerignore").write_text("*.key\nlogs\n")
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "file").write_text("from the tarball\n")
    with tarfile.open(context / "bundle.tar", "w") as tar:
        tar.add(inside, arcname="inside")
    token = secrets.token_hex(4)
    tag = f"pyorch.local/test-build:{token}"
    events: list[BuildEvent] = []
    request = BuildRequest(context=context, build_args={"TOKEN": token, "UNUSED": "x"}, tags=[tag],
                           labels={"org.example.built-by": "test"})
    first = Builder(rt).build(request, events.append)

    assert first.ran == 2 and first.cached == 0
    assert any("syntax" in e.text and e.kind == "note" for e in events)
    assert first.warnings == ["build argument 'UNUSED' was given but no ARG declares it"]
    config = first.image.config
    assert (config.user, config.working_dir) == ("nobody", "/app")
    assert "GREETING=hello there" in config.env
    assert config.labels == {"org.example.built-by": "test"}
    code, lines = run_image(rt, tag)
    assert code == 0, lines
    stamp = (first.image.layer_dirs[-3] / "app" / "stamp").read_text()
    assert lines == ["hello there", "65534", "/app", "built", token,
                     "ls: /src: No such file or directory",  # the build stage's files stay there
                     "/www:", "index.html",  # deleted by a RUN of the build stage only
                     "www-data 644", "root 640", "from the tarball", "notes.txt", "result", "stamp", "token"]
    assert "secret.key" not in " ".join(lines) and not (first.image.layer_dirs[-1] / "src").exists()

    blobs = sorted(os.listdir(rt.images.blobs))
    again = Builder(rt).build(request)
    assert (again.ran, again.cached) == (0, 7)  # WORKDIR /src, COPY ., 2 RUN; COPY --from, COPY, ADD
    assert again.image.id == first.image.id
    assert sorted(os.listdir(rt.images.blobs)) == blobs
    assert (again.image.layer_dirs[-3] / "app" / "stamp").read_text() == stamp  # the RUN did not run again

    (context / "notes.txt").write_text("changed\n")
    third = Builder(rt).build(request)
    assert third.ran == 2 and third.image.id != first.image.id  # COPY . busts the RUNs after it


def test_run_layers_carry_oci_whiteouts_and_opaque_dirs(rt: ContainerRuntime, tmp_path: Path) -> None:
    token = secrets.token_hex(4)
    context = _context(tmp_path, f"FROM pyorch.local/busybox:latest\nRUN mkdir -p /d/sub && echo {token} > /d/f\n"
                                 "RUN rm /www/index.html && rm -r /d && mkdir /d && echo new > /d/g\n")
    result = Builder(rt).build(BuildRequest(context=context))
    top = result.image.layer_dirs[-1]
    whiteout = os.lstat(top / "www" / "index.html")
    assert whiteout.st_rdev == 0 and os.major(whiteout.st_rdev) == 0 and not (top / "etc").exists()
    assert os.getxattr(top / "d", "trusted.overlay.opaque") == b"y"
    code, lines = run_image_cmd(rt, result.image.id, "ls /d /www; cat /d/g")
    assert code == 0 and lines == ["/d:", "g", "", "/www:", "new"]


def run_image_cmd(rt: ContainerRuntime, image: str, script: str) -> tuple[int | None, list[str]]:
    info = rt.create(RunConfig(name="check", image=image, command=["sh", "-c", script]))
    rt.start(info.id)
    deadline = time.monotonic() + 30
    while rt.inspect(info.id).status != "exited":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    lines = [line.split(" ", 3)[3] if line.count(" ") >= 3 else "" for line in
             rt.log_path(info.id).read_text().splitlines()]
    code = rt.inspect(info.id).exit_code
    rt.remove(info.id)
    return code, lines


def test_from_scratch_with_a_static_binary(rt: ContainerRuntime, tmp_path: Path) -> None:
    context = _context(tmp_path, 'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n'
                                 'CMD ["echo", "static and alone"]\n')
    shutil.copy2("/bin/busybox", context / "busybox")
    result = Builder(rt).build(BuildRequest(context=context, tags=[f"pyorch.local/scratch:{secrets.token_hex(3)}"]))
    assert len(result.image.layer_dirs) == 1
    assert sorted(os.listdir(result.image.layer_dirs[0])) == ["bin"]
    code, lines = run_image(rt, result.image.id)
    assert (code, lines) == (0, ["static and alone"])


@pytest.mark.parametrize(("dockerfile", "message"), [
    ("FROM pyorch.local/busybox:latest\nRUN echo about to fail; exit 3\n",
     r"Dockerfile:2: the command .* returned a non-zero code: 3\nabout to fail"),
    ("FROM pyorch.local/busybox:latest\nCOPY nope /x\n", r"Dockerfile:2: COPY source 'nope' not found"),
    ("FROM pyorch.local/busybox:latest\nCOPY ../outside /x\n", r"Dockerfile:2: .*outside the build context"),
    ("FROM pyorch.local/busybox:latest\nADD --checksum=md5:1 http://127.0.0.1:9/x.tgz /x\n",
     r"Dockerfile:2: --checksum='md5:1': want sha256"),
    ("FROM pyorch.local/busybox:latest\nCOPY http://127.0.0.1:9/x.tgz /x\n", r"Dockerfile:2: COPY .* takes no URLs"),
    ("FROM pyorch.local/busybox:latest\nRUN --mount=type=ssh ssh-add -l\n", r"Dockerfile:2: .*type=ssh is not"),
    ("FROM pyorch.local/busybox:latest\nRUN --network=host true\n", r"Dockerfile:2: .*network.host entitlement"),
    ("FROM pyorch.local/busybox:latest\nRUN --mount=type=cache,sharing=all,target=/c true\n",
     r"Dockerfile:2: .*sharing='all'"),
    ("FROM pyorch.local/busybox:latest\nCOPY --chown=nosuchuser Dockerfile /x\n",
     r"Dockerfile:2: --chown: no user 'nosuchuser'"),
    ("FROM pyorch.local/no-such-image:1\n", r"Dockerfile:1: base image pyorch.local/no-such-image:1 is not"),
    ("FROM pyorch.local/busybox:latest\nRUN touch /made\nEXPOSE 70000\n", r"Dockerfile:3: EXPOSE: invalid port"),
])
def test_errors_name_the_line_and_nothing_runs_before_a_check_fails(rt: ContainerRuntime, tmp_path: Path,
                                                                     dockerfile: str, message: str) -> None:
    context = _context(tmp_path, dockerfile)
    blobs = set(os.listdir(rt.images.blobs))
    with pytest.raises((BuildError, DockerfileError), match=message):
        Builder(rt).build(BuildRequest(context=context, no_cache=True))
    if "non-zero" not in message:
        assert set(os.listdir(rt.images.blobs)) == blobs  # refused before any layer or container
    assert rt.containers() == []
