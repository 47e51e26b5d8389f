"""Builds through the CLI as a user runs them: Compose build.secrets, extra_hosts and network, a RUN
step fetching from the host, `image build --secret/--add-host/--network`, `builder prune`."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest

from runtime.image import ImageStore
from runtime.image.bootstrap import ensure_base_images
from runtime.layout import HostLayout
from tests.helpers import pyorch
from tests.integration.image.build.test_build_network import host_server

pytestmark = pytest.mark.root

DOCKERFILE = """\
FROM pyorch.local/busybox:latest
RUN --mount=type=secret,id=token,required=true --mount=type=cache,id=e2e-{marker},target=/cache \\
    timeout 10 wget -q -O /page "http://hostside:{port}/?t=$(cat /run/secrets/token)" \\
    && echo seen > /cache/seen && wc -c < /run/secrets/token > /token-length
CMD ["cat", "/page", "/token-length"]
"""


def test_compose_build_with_secrets_hosts_and_the_network(layout: HostLayout, tmp_path: Path) -> None:
    ensure_base_images(ImageStore(layout.images_dir))
    token = secrets.token_hex(10)
    marker = secrets.token_hex(4)
    with host_server(b"from the host\n") as (port, clients):
        (tmp_path / "Dockerfile").write_text(DOCKERFILE.format(marker=marker, port=port))
        (tmp_path / "compose.yaml").write_text(
            "name: feat\nservices:\n  app:\n    build:\n      context: .\n"
            "      extra_hosts: [\"hostside=host-gateway\"]\n      secrets: [token]\n"
            "secrets:\n  token:\n    environment: FEAT_TOKEN\n")
        built = pyorch(layout, "-f", str(tmp_path / "compose.yaml"), "--progress", "plain", "build",
                       FEAT_TOKEN=token)
        assert re.search(r"^#\d+ \[app 2/2\] RUN --mount=type=secret", built.stderr, re.M), built.stderr
        assert token not in built.stderr + built.stdout
        assert clients and not any(c.startswith("127.") for c in clients)
        run = pyorch(layout, "-f", str(tmp_path / "compose.yaml"), "run", "--rm", "app")
        assert run.stdout.split() == ["from", "the", "host", str(len(token))]

        history = json.loads(pyorch(layout, "image", "inspect", "feat-app").stdout)[0]
        assert token not in json.dumps(history)

        refused = pyorch(layout, "-f", str(tmp_path / "compose.yaml"), "build", "--no-cache", check=False)
        assert refused.returncode != 0 and "FEAT_TOKEN is not set" in refused.stderr

        offline = pyorch(layout, "--progress", "plain", "image", "build", "--no-cache", "--network", "none",
                         "--secret", "id=token,env=FEAT_TOKEN", "--add-host", "hostside:host-gateway",
                         str(tmp_path), check=False, FEAT_TOKEN=token)
        assert offline.returncode != 0 and "returned a non-zero code" in offline.stderr
    pruned = pyorch(layout, "builder", "prune", "-f")
    assert re.search(r"removed \d+ cache entries and [1-9]\d* cache mounts", pruned.stdout), pruned.stdout
    pyorch(layout, "-f", str(tmp_path / "compose.yaml"), "down")


def test_services_build_at_the_same_time_with_one_step_numbering(layout: HostLayout, tmp_path: Path) -> None:
    """Each service's RUN waits (up to a minute) for a file the other's writes into a shared cache
    mount: `pyorch build` only succeeds if the two builds run at the same time."""
    ensure_base_images(ImageStore(layout.images_dir))
    meet = "meet-" + secrets.token_hex(4)
    for name, mine, other in (("left", "l", "r"), ("right", "r", "l")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(
            f"FROM pyorch.local/busybox:latest\nRUN --mount=type=cache,id={meet},target=/meet touch /meet/{mine} "
            f"&& for i in $(seq 600); do [ -e /meet/{other} ] && break; sleep 0.1; done && [ -e /meet/{other} ]\n")
    (tmp_path / "compose.yaml").write_text("name: pair\nservices:\n  left:\n    build: ./left\n"
                                           "  right:\n    build: ./right\n")
    built = pyorch(layout, "-f", str(tmp_path / "compose.yaml"), "--progress", "plain", "build")
    assert built.stdout.count("sha256:") == 2
    started = re.findall(r"^#(\d+) (\[\w+ [^\]]*\] .*)$", built.stderr, re.M)
    numbers: dict[str, set[str]] = {}
    for number, name in started:
        numbers.setdefault(number, set()).add(name)
    assert all(len(names) == 1 for names in numbers.values()), numbers  # one step per number
    assert any("[left 2/2] RUN" in n for ns in numbers.values() for n in ns)
    assert any("[right 2/2] RUN" in n for ns in numbers.values() for n in ns)
