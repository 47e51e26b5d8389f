"""Image verbs as users run them, against a real registry with htpasswd auth: login, push, pull_policy
on `up`, rmi refused for used images, prune, save/load through pipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.image.bootstrap import build_busybox_rootfs
from runtime.layout import HostLayout
from tests.helpers import REPO, env_for, pyorch
from tests.integration.image.registry.servers import PASSWORD, USER, run_registry

pytestmark = pytest.mark.root


def _private_store(layout: HostLayout) -> None:
    """This test removes and prunes images: it gets its own store instead of the session's shared one."""
    layout.images_dir.unlink()
    layout.images_dir.mkdir()


def test_login_push_up_pulls_rmi_prune_save_load(layout: HostLayout, tmp_path: Path) -> None:
    _private_store(layout)
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    build_busybox_rootfs(rootfs)
    local_id = pyorch(layout, "import", str(rootfs), "pyorch.local/box", "--cmd", "sh").stdout.strip()
    with run_registry(tmp_path / "registry", "htpasswd") as registry:
        remote = f"{registry.host}/team/box:1"
        refused = pyorch(layout, "push", "pyorch.local/box", remote, check=False)
        assert refused.returncode == 1 and "pyorch login" in refused.stderr
        wrong = pyorch(layout, "login", registry.host, "-u", USER, "-p", "nope", check=False)
        assert wrong.returncode == 1 and not (layout.state_root / "auth.json").exists()
        ok = subprocess.run([sys.executable, "-m", "orchestrator.cli", "login", registry.host, "-u", USER,
                             "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True,
                            cwd=REPO, env=env_for(layout), timeout=60)
        assert ok.returncode == 0, ok.stderr
        assert registry.host in json.loads((layout.state_root / "auth.json").read_text())["auths"]
        pushed = pyorch(layout, "push", "pyorch.local/box", remote)
        assert "digest: sha256:" in pushed.stdout

        # Nothing of it stays locally; `up` pulls the missing image and runs it.
        pyorch(layout, "rmi", "pyorch.local/box")
        assert pyorch(layout, "image", "prune").stdout.count("deleted: sha256:") >= 3
        compose = tmp_path / "compose.yaml"
        compose.write_text(f"services:\n  app:\n    image: {remote}\n    pull_policy: missing\n"
                           "    command: [sleep, '300']\n    init: true\n")
        never = tmp_path / "never.yaml"
        never.write_text("services:\n  app:\n    image: example.com/not/here:1\n    pull_policy: never\n")
        refusal = pyorch(layout, "-f", str(never), "up", "-d", check=False)
        assert refusal.returncode == 1 and "pull_policy is never" in refusal.stderr
        pyorch(layout, "-f", str(compose), "up", "-d")
        rows = json.loads(pyorch(layout, "-f", str(compose), "ps", "--format", "json").stdout)
        assert [r["status"] for r in rows] == ["running"]
        [inspected] = json.loads(pyorch(layout, "image", "inspect", remote).stdout)
        assert inspected["Id"] == local_id and inspected["RepoTags"] == [remote]
        # `pull` with no names pulls the project's service images (all layers already here).
        assert pyorch(layout, "-f", str(compose), "pull", "-q").stdout.strip() == local_id
        by_service = pyorch(layout, "-f", str(compose), "pull", "app").stdout
        assert by_service.strip() == f"{remote}: {local_id}"

        in_use = pyorch(layout, "rmi", remote, check=False)
        assert in_use.returncode == 1 and "used by a container" in in_use.stderr
        pyorch(layout, "image", "prune", "-a")
        assert json.loads(pyorch(layout, "image", "inspect", remote).stdout)[0]["Id"] == local_id

        # save to a pipe, load from a pipe, under another name
        saved = subprocess.run([sys.executable, "-m", "orchestrator.cli", "save", remote], capture_output=True,
                               cwd=REPO, env=env_for(layout), timeout=60)
        assert saved.returncode == 0, saved.stderr
        # rmi -f of a used image: the name goes, the image stays (dangling) until its container does.
        assert pyorch(layout, "rmi", "-f", remote).stdout.strip() == f"Untagged: {remote}"
        pyorch(layout, "image", "prune")
        assert json.loads(pyorch(layout, "image", "inspect", local_id).stdout)[0]["RepoTags"] == []
        pyorch(layout, "-f", str(compose), "down")
        assert "deleted: sha256:" in pyorch(layout, "image", "prune").stdout
        assert pyorch(layout, "image", "inspect", local_id, check=False).returncode == 1
        pyorch(layout, "logout", registry.host)
        assert registry.host not in json.loads((layout.state_root / "auth.json").read_text())["auths"]
        loaded = subprocess.run([sys.executable, "-m", "orchestrator.cli", "load"], input=saved.stdout,
                                capture_output=True, cwd=REPO, env=env_for(layout), timeout=60)
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout.decode().strip() == f"Loaded image: {remote}"
        # logged out: a forced pull now fails with the login hint
        forced = pyorch(layout, "-f", str(compose), "up", "-d", "--pull", "always", check=False)
        assert forced.returncode == 1 and "pyorch login" in forced.stderr
        pyorch(layout, "-f", str(compose), "down")
