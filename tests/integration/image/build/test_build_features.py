"""Dockerfile features beyond the basics: stages built side by side, ONBUILD and an inherited SHELL,
COPY heredocs, --parents, --exclude and --link, ADD of a URL with --checksum, the history."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest

from runtime.container.runtime import ContainerRuntime
from runtime.image.build import Builder, BuildError, BuildRequest
from tests.integration.image.build.test_build_network import host_server
from tests.integration.image.build.test_builder import run_image_cmd

pytestmark = pytest.mark.root
BUSYBOX = "pyorch.local/busybox:latest"


def _context(tmp_path: Path, dockerfile: str, name: str = "ctx") -> Path:
    context = tmp_path / name
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    return context


def test_independent_stages_build_at_the_same_time(rt: ContainerRuntime, tmp_path: Path) -> None:
    """Each of the two RUN steps waits (up to a minute) for a file the other writes into a shared
    cache mount: they can only both finish if they run at the same time."""
    meet = "meet-" + secrets.token_hex(4)

    def stage(name: str, mine: str, other: str) -> str:
        return (f"FROM {BUSYBOX} AS {name}\n"
                f"RUN --mount=type=cache,id={meet},target=/meet touch /meet/{mine} && "
                f"for i in $(seq 600); do [ -e /meet/{other} ] && break; sleep 0.1; done && "
                f"[ -e /meet/{other} ] && echo {name} > /made-by\n")

    context = _context(tmp_path, stage("left", "l", "r") + stage("right", "r", "l")
                       + f"FROM {BUSYBOX}\nCOPY --from=left /made-by /left\nCOPY --from=right /made-by /right\n")
    result = Builder(rt).build(BuildRequest(context=context, no_cache=True))
    runs = {r.stage: r for r in result.records if "RUN" in r.name}
    left, right = runs["left"], runs["right"]
    assert left.started < right.finished and right.started < left.finished  # their windows overlap
    code, lines = run_image_cmd(rt, result.image.id, "cat /left /right")
    assert (code, lines) == (0, ["left", "right"])


def test_a_failing_stage_cancels_the_one_beside_it(rt: ContainerRuntime, tmp_path: Path) -> None:
    context = _context(tmp_path, f"FROM {BUSYBOX} AS slow\nRUN sleep 120\n"
                                 f"FROM {BUSYBOX} AS broken\nRUN sleep 1; exit 7\n"
                                 f"FROM {BUSYBOX}\nCOPY --from=slow /etc/passwd /a\n"
                                 "COPY --from=broken /etc/passwd /b\n")
    with pytest.raises(BuildError, match="non-zero code: 7"):
        Builder(rt).build(BuildRequest(context=context, no_cache=True))
    assert rt.containers() == []


def test_onbuild_triggers_and_the_base_images_shell(rt: ContainerRuntime, tmp_path: Path) -> None:
    tag = f"pyorch.local/onbuild-base:{secrets.token_hex(3)}"
    base = _context(tmp_path, f"FROM {BUSYBOX}\n"
                              'SHELL ["/bin/sh", "-c", "echo via-base-shell >> /shell-log; eval \\"$0\\""]\n'
                              "ONBUILD COPY trigger.txt /from-trigger\n"
                              "ONBUILD RUN echo trigger-ran > /trigger-ran\n", "base")
    Builder(rt).build(BuildRequest(context=base, tags=[tag]))
    child = _context(tmp_path, f"FROM {tag}\nRUN echo child > /child\n", "child")
    (child / "trigger.txt").write_text("from the child's context\n")
    result = Builder(rt).build(BuildRequest(context=child))
    assert result.image.config.on_build == [] and result.image.config.shell is not None
    code, lines = run_image_cmd(rt, result.image.id, "cat /from-trigger /trigger-ran /child /shell-log")
    assert (code, lines) == (0, ["from the child's context", "trigger-ran", "child", "via-base-shell",
                                 "via-base-shell"])
    grandchild = _context(tmp_path, f"FROM {result.image.id}\nRUN true\n", "grandchild")
    again = Builder(rt).build(BuildRequest(context=grandchild))  # the triggers do not run a second time
    assert again.ran == 1


def test_copy_heredocs_parents_exclude_and_link(rt: ContainerRuntime, tmp_path: Path) -> None:
    context = _context(tmp_path, f"FROM {BUSYBOX}\nARG NAME=world\nARG V\nRUN echo $V > /v\n"
                                 "COPY <<EOF /etc/motd\nhello $NAME\nEOF\n"
                                 "COPY <<'EOF' /raw.txt\nkeep $NAME\nEOF\n"
                                 "COPY --parents src/./app/main.py other/util.py /p/\n"
                                 "COPY --exclude=*.log --exclude=secret* dir/ /d/\n"
                                 "COPY --link one.txt /linked/\n")
    for path, text in {"src/app/main.py": "main", "other/util.py": "util", "dir/keep.txt": "keep",
                       "dir/debug.log": "log", "dir/secret.key": "key", "dir/sub/deep.log": "deep",
                       "one.txt": "one"}.items():
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        (context / path).write_text(text + "\n")
    first = Builder(rt).build(BuildRequest(context=context, build_args={"V": "1"}))
    script = "cat /etc/motd /raw.txt; stat -c %a /etc/motd; find /p /d /linked -type f | sort"
    code, lines = run_image_cmd(rt, first.image.id, script)
    assert (code, lines) == (0, ["hello world", "keep $NAME", "644", "/d/keep.txt", "/d/sub/deep.log",
                                 "/linked/one.txt", "/p/app/main.py", "/p/other/util.py"])
    second = Builder(rt).build(BuildRequest(context=context, build_args={"V": "2"}))
    assert second.image.layer_dirs[-1] == first.image.layer_dirs[-1]  # --link: the same layer on a new base
    linked = [r for r in second.records if "COPY --link" in r.name]
    assert linked and linked[0].cached


def test_add_a_url_with_its_checksum(rt: ContainerRuntime, tmp_path: Path) -> None:
    body = secrets.token_hex(16).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    with host_server(body) as (port, clients):
        url = f"http://127.0.0.1:{port}/files/data.bin"
        context = _context(tmp_path, f"FROM {BUSYBOX}\nADD --checksum={digest} {url} /downloads/\n"
                                     f"ADD {url} /renamed.bin\n")
        first = Builder(rt).build(BuildRequest(context=context))
        code, lines = run_image_cmd(rt, first.image.id, 'echo "$(cat /downloads/data.bin)"; stat -c %a /renamed.bin')
        assert (code, lines) == (0, [body.decode(), "600"])
        fetched = len(clients)
        Builder(rt).build(BuildRequest(context=context))
        assert len(clients) == fetched + 1  # the checksummed one came from the cache; the other is fetched again
        wrong = _context(tmp_path, f"FROM {BUSYBOX}\nADD --checksum=sha256:{'0' * 64} {url} /x\n", "wrong")
        with pytest.raises(BuildError, match="the download's digest is"):
            Builder(rt).build(BuildRequest(context=wrong))


def test_history_has_an_entry_per_instruction(rt: ContainerRuntime, tmp_path: Path) -> None:
    context = _context(tmp_path, f"FROM {BUSYBOX}\nENV A=1\nRUN true\nRUN echo x > /x\nCMD [\"sh\"]\n")
    result = Builder(rt).build(BuildRequest(context=context))
    history = rt.images.read_json(result.image.id)["history"]
    base = rt.images.read_json(rt.images.resolve(BUSYBOX).id)["history"]
    assert history[: len(base)] == base
    mine = [(h["created_by"], bool(h.get("empty_layer"))) for h in history[len(base):]]
    assert mine == [("ENV A=1", True), ("RUN /bin/sh -c true", True), ("RUN /bin/sh -c echo x > /x", False),
                    ('CMD ["sh"]', True)]
    assert sum(1 for h in history if not h.get("empty_layer")) == len(result.image.layer_dirs)
