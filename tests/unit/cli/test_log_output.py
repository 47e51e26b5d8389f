"""How `logs` and attached `up` print a record: the container's text exactly, whatever it looks like."""

from __future__ import annotations

import pytest

from orchestrator.cli import render


def record(text: str) -> dict[str, str]:
    return {"container": "p-web-1", "service": "web", "stream": "stdout", "time": "2026-01-02T03:04:05.000000006+00:00",
            "text": text}


@pytest.mark.parametrize("text", [":smile: deployed :rocket:", "[bold]not markup[/]", "tab\there",
                                  "\x1b[31mred\x1b[0m"])
def test_text_is_printed_as_the_container_wrote_it(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    render.log_line(record(text), timestamps=False, prefix=True, color=False)
    assert capsys.readouterr().out == f"p-web-1  | {text}\n"


def test_timestamps_and_no_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    render.log_line(record(":+1:"), timestamps=True, prefix=False, color=False)
    assert capsys.readouterr().out == "2026-01-02T03:04:05.000000006+00:00 :+1:\n"
