"""The CLI's plain console writes what rich would, or leaves the line to rich."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from orchestrator.cli.console import PIPE_WIDTH, _plain_line, _render
from orchestrator.cli.render import escape

SAMPLES = [
    " [green]✔[/] Container hello-web-1  Removed",
    " [red]✘[/] CreateContainer x: cannot start container x: boom",
    "[yellow]WARN[/] service web: key 'mem_swappiness' is accepted but not applied yet",
    f" [green]✔[/] Container {escape('odd[name]')}  Started",
    "[red]error:[/] " + escape("a [bold] path: C:[x]\\"),
    "[bold]a[/bold] and [cyan]b[/cyan] plain",
    "no markup at all, 50% [ not a tag",
    "x" * 300,
]


def rich_line(text: str) -> str:
    buffer = io.StringIO()
    Console(file=buffer, highlight=False, width=PIPE_WIDTH, force_terminal=False).print(text)
    return buffer.getvalue()


@pytest.mark.parametrize("text", SAMPLES)
def test_a_plain_line_is_what_rich_prints_on_a_pipe(text: str) -> None:
    line = _plain_line((text,), {}, io.StringIO())
    if line is not None:
        assert line + "\n" == rich_line(text)
    else:
        assert len(text) > PIPE_WIDTH  # only the long line is left to rich here


@pytest.mark.parametrize("text", ["[link=http://x]a[/link]", "[bold red]x[/]", "[/]", "a :smile: b", "a\nb"])
def test_what_it_does_not_know_goes_to_rich(text: str) -> None:
    assert _plain_line((text,), {}, io.StringIO()) is None


def test_colours_on_a_terminal() -> None:
    assert _render("[green]✔[/] ok", colour=True) == "\x1b[32m✔\x1b[0m ok"
    assert _render("[red][bold]x[/bold]y[/red]", colour=True) == "\x1b[31m\x1b[1mx\x1b[0m\x1b[31my\x1b[0m"


def test_a_plain_ps_table_is_what_rich_prints_on_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.cli.console import LazyConsole
    from orchestrator.cli.render import ps_table

    rows = [
        {"name": "shop-web-1", "image": "pyorch.local/busybox:latest", "service": "web", "status": "running",
         "started_at": 0.0, "restart_count": 0, "ports": ["127.0.0.1:8080->80/tcp"], "health": {"status": "healthy"}},
        {"name": "shop-web-10", "image": "odd[name]", "service": "web", "status": "exited", "exit_code": 137,
         "finished_at": 0.0, "restart_count": 12, "ports": [], "oom_killed": True},
    ]
    ours = io.StringIO()
    monkeypatch.setattr("sys.stdout", ours)
    ps_table(LazyConsole(stderr=False), rows)  # type: ignore[arg-type]
    theirs = io.StringIO()
    ps_table(Console(file=theirs, highlight=False, width=PIPE_WIDTH, force_terminal=False), rows)
    assert ours.getvalue() == theirs.getvalue()
    assert "odd[name]" in ours.getvalue()
    wide = LazyConsole(stderr=False)
    assert not wide.table(["A"], [["é"]])  # not plain ASCII: left to rich
    assert not wide.table(["A"], [["x" * (PIPE_WIDTH + 1)]])  # rich would wrap it
