"""RUN --mount: caches that survive builds and never enter a layer, secrets that never enter the
image or its history, bind mounts from the context and from a stage, tmpfs."""

from __future__ import annotations

import hashlib
import json
import secrets
import tarfile
from pathlib import Path

import pytest

from runtime.container.runtime import ContainerRuntime
from runtime.image.build import Builder, BuildError, BuildRequest
from runtime.image.build.cache_mounts import cache_root, prune_cache_mounts
from tests.integration.image.build.test_builder import run_image_cmd

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    return context


def _layer_bytes(rt: ContainerRuntime, image_id: str) -> list[bytes]:
    """Every file's bytes in every layer blob of the image, and the names."""
    manifest = rt.images.read_json(rt.images.resolve(image_id).manifest_digest)
    out: list[bytes] = []
    for layer in manifest["layers"]:
        with tarfile.open(rt.images.blob_path(layer["digest"])) as tar:
            for member in tar:
                out.append(member.name.encode())
                if member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    out.append(extracted.read())
    return out


def test_a_cache_mount_survives_between_builds_and_never_enters_a_layer(rt: ContainerRuntime,
                                                                        tmp_path: Path) -> None:
    marker = secrets.token_hex(8)
    dockerfile = (f"FROM {BUSYBOX}\nARG ROUND\n"
                  "RUN --mount=type=cache,id=pkgs-" + marker + ",target=/var/cache/pkgs,uid=1000,mode=0700 "
                  "ls /var/cache/pkgs > /seen && stat -c '%u %a' /var/cache/pkgs > /owner && "
                  "echo $ROUND-" + marker + " > /var/cache/pkgs/round-$ROUND\n")
    context = _context(tmp_path, dockerfile)
    first = Builder(rt).build(BuildRequest(context=context, build_args={"ROUND": "1"}))
    second = Builder(rt).build(BuildRequest(context=context, build_args={"ROUND": "2"}))
    code, lines = run_image_cmd(rt, second.image.id, "cat /seen /owner; ls -d /var/cache 2>&1; true")
    # written by the first build, seen by the second; the mount point (and its parent) not kept
    assert (code, lines) == (0, ["round-1", "1000 700", "ls: /var/cache: No such file or directory"])
    for image in (first.image.id, second.image.id):
        blob = b"\n".join(_layer_bytes(rt, image))
        assert marker.encode() not in blob and b"var/cache" not in blob  # neither the files nor the mount point
    home = cache_root(rt.images.root) / hashlib.sha256(f"pkgs-{marker}".encode()).hexdigest()[:32]
    assert (home / "shared").is_dir()
    assert prune_cache_mounts(rt.images.root) >= 1  # the store is shared with other tests: theirs may go too
    assert not home.exists()


def test_a_secret_is_readable_in_the_step_and_absent_from_layers_and_history(rt: ContainerRuntime,
                                                                            tmp_path: Path) -> None:
    value = "s3cr3t-" + secrets.token_hex(12)
    context = _context(tmp_path, f"FROM {BUSYBOX}\n"
                                 "RUN --mount=type=secret,id=api_token,required=true "
                                 "--mount=type=secret,id=api_token,env=API_TOKEN,target=/etc/token "
                                 "test \"$(cat /run/secrets/api_token)\" = \"$API_TOKEN\" && "
                                 "test \"$(cat /etc/token)\" = \"$API_TOKEN\" && "
                                 "stat -c '%a %u' /run/secrets/api_token > /secret-meta && "
                                 "echo ${#API_TOKEN} > /secret-length\n")
    result = Builder(rt).build(BuildRequest(context=context, secrets={"api_token": value.encode()}, no_cache=True))
    code, lines = run_image_cmd(rt, result.image.id, "cat /secret-meta /secret-length; ls /run /etc/token 2>&1; true")
    assert (code, lines) == (0, ["400 0", str(len(value)), "ls: /run: No such file or directory",
                                 "ls: /etc/token: No such file or directory"])
    for blob in _layer_bytes(rt, result.image.id):
        assert value.encode() not in blob
    config = rt.images.read_json(result.image.id)
    assert value not in json.dumps(config)  # history and config
    assert any("RUN " in entry.get("created_by", "") for entry in config["history"])
    # no copy of it left on the host either
    leftovers = [p for p in (rt.layout.run_root / "build-secrets").rglob("*") if p.is_file()]
    assert leftovers == []
    with pytest.raises(BuildError, match="secret 'api_token' is required"):
        Builder(rt).build(BuildRequest(context=context, no_cache=True))


def test_bind_mounts_from_the_context_and_a_stage_and_tmpfs(rt: ContainerRuntime, tmp_path: Path) -> None:
    context = _context(tmp_path, f"FROM {BUSYBOX} AS tools\nRUN mkdir /out && echo from-stage > /out/tool\n"
                                 f"FROM {BUSYBOX}\n"
                                 "RUN --mount=type=bind,source=src,target=/src "
                                 "--mount=type=bind,from=tools,source=/out,target=/tools "
                                 "--mount=type=bind,target=/rw,rw "
                                 "--mount=type=tmpfs,target=/scratch,size=1m "
                                 "cat /src/input /tools/tool > /result && echo scribble > /rw/Dockerfile && "
                                 "echo tmp > /scratch/x && df /scratch | tail -1 | awk '{print $2}' > /scratch-size && "
                                 "! ls /src/hidden.txt\n")
    (context / "src").mkdir()
    (context / "src" / "input").write_text("from-context\n")
    (context / "src" / "hidden.txt").write_text("ignored\n")
    (context / ".dockerignore").write_text("src/hidden.txt\n")
    original = (context / "Dockerfile").read_text()
    result = Builder(rt).build(BuildRequest(context=context))
    script = "cat /result /scratch-size; ls -A / | grep -c -E '^(src|tools|rw|scratch)$'; true"
    code, lines = run_image_cmd(rt, result.image.id, script)
    assert (code, lines) == (0, ["from-context", "from-stage", "1024", "0"])
    assert (context / "Dockerfile").read_text() == original  # rw writes are thrown away
    (context / "src" / "input").write_text("changed\n")
    again = Builder(rt).build(BuildRequest(context=context))
    assert again.ran == 1  # the bound source changed: the step runs again
