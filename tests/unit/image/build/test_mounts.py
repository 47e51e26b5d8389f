"""RUN --mount specifications, and the pure parts around RUN and COPY (no root needed)."""

from __future__ import annotations

import io

import pytest

from orchestrator.cli.build_progress import PlainPrinter
from orchestrator.cli.cmd_build import add_hosts, read_secrets
from orchestrator.errors import PyorchError
from runtime.image.build import parse
from runtime.image.build.errors import BuildError
from runtime.image.build.metadata import command, script_heredoc
from runtime.image.build.mounts import BindSpec, CacheSpec, SecretSpec, TmpfsSpec, parse_mount
from runtime.image.build.stages import needed_stages, select_target, split_stages
from runtime.image.build.words import expand_heredoc


@pytest.mark.parametrize(("text", "expected"), [
    ("type=cache,target=/root/.cache", CacheSpec("/root/.cache", "/root/.cache")),
    ("type=cache,id=pip,dst=cache,sharing=locked,mode=0700,uid=10,gid=20,ro",
     CacheSpec("/app/cache", "pip", "locked", 0o700, 10, 20, True)),
    ("type=secret,id=npmrc", SecretSpec("npmrc", "/run/secrets/npmrc")),
    ("type=secret,id=tok,env=TOKEN", SecretSpec("tok", None, "TOKEN")),
    ("type=secret,target=/root/.netrc,required", SecretSpec(".netrc", "/root/.netrc", required=True)),
    ("target=/src,source=./pkg/", BindSpec("/src", "pkg")),
    ("type=bind,from=build,src=/out,target=/in,rw", BindSpec("/in", "out", "build", writable=True)),
    ("type=tmpfs,target=/tmp/x,size=64m", TmpfsSpec("/tmp/x", 64 << 20)),
])
def test_mount_specs(text: str, expected: object) -> None:
    assert parse_mount(text, "/app") == expected


@pytest.mark.parametrize(("text", "message"), [
    ("type=ssh", "type=ssh is not supported"),
    ("type=cache", "needs a target"),
    ("type=cache,target=/x,sharing=sometimes", "want shared, private or locked"),
    ("type=cache,target=/x,mode=999", "want an octal mode"),
    ("type=tmpfs,target=/x,size=lots", "size='lots'"),
    ("type=volume,target=/x", "type 'volume' is unknown"),
    ("type=bind,target=/x,bogus=1", "unknown option 'bogus'"),
    ("type=secret", "needs an id"),
    ("type=cache,target=/", "may not be /"),
    ("type=cache,target=/x,target=/y", "given twice"),
])
def test_mount_spec_errors(text: str, message: str) -> None:
    with pytest.raises(BuildError, match=message):
        parse_mount(text, "/")


def test_run_heredocs_and_stage_dependencies_through_mounts() -> None:
    df = parse("FROM a AS deps\nFROM b AS other\nFROM c\nRUN --mount=from=deps,target=/d <<EOF\necho hi\nEOF\n"
               "RUN python3 <<EOF\nprint(1)\nEOF\nRUN <<EOF\n#!/usr/bin/env python3\nprint(2)\nEOF\n")
    run_only, fed, script = df.instructions[3:]
    assert command(run_only, ("/bin/sh", "-c")) == ["/bin/sh", "-c", "echo hi\n"]
    assert command(fed, ("/bin/sh", "-c")) == ["/bin/sh", "-c", "python3 <<EOF\nprint(1)\nEOF"]
    assert script_heredoc(script) == "#!/usr/bin/env python3\nprint(2)\n" and script_heredoc(fed) is None
    plan = split_stages(df)
    assert [s.name for s in needed_stages(plan, select_target(plan, None), {})] == ["deps", None]


def test_heredoc_substitution_keeps_quotes() -> None:
    assert expand_heredoc("say '$A' \"${B:-b}\" \\$C\n", {"A": "1"}) == "say '1' \"b\" $C\n"


def test_cli_secrets_and_hosts(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    (tmp_path / "key").write_bytes(b"file-value")
    found = read_secrets([f"id=a,src={tmp_path / 'key'}", "id=b,env=B_VAR", "id=C"], {"B_VAR": "bee", "C": "sea"})
    assert found == {"a": "ZmlsZS12YWx1ZQ==", "b": "YmVl", "C": "c2Vh"}
    with pytest.raises(PyorchError, match="B_VAR is not set"):
        read_secrets(["id=b,env=B_VAR"], {})
    assert add_hosts(["db:10.0.0.2", "host=host-gateway"]) == {"db": "10.0.0.2", "host": "host-gateway"}
    with pytest.raises(PyorchError, match="want HOST:IP"):
        add_hosts(["nocolon"])


def test_plain_progress_reprints_the_header_when_steps_interleave() -> None:
    out = io.StringIO()
    printer = PlainPrinter(out)
    for event in [{"build": "vertex", "text": "[a 2/2] RUN x", "vertex": 1, "status": "started"},
                  {"build": "vertex", "text": "[b 2/2] RUN y", "vertex": 2, "status": "started"},
                  {"build": "log", "text": "from x", "vertex": 1, "elapsed": 0.25},
                  {"build": "vertex", "text": "[b 2/2] RUN y", "vertex": 2, "status": "cached"},
                  {"build": "vertex", "text": "[a 2/2] RUN x", "vertex": 1, "status": "done", "elapsed": 1.23}]:
        printer.event(event)
    assert out.getvalue().splitlines() == ["", "#1 [a 2/2] RUN x", "", "#2 [b 2/2] RUN y", "", "#1 [a 2/2] RUN x",
                                           "#1 0.250 from x", "", "#2 [b 2/2] RUN y", "#2 CACHED", "",
                                           "#1 [a 2/2] RUN x", "#1 DONE 1.2s"]
