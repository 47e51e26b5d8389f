"""A container setup's failure names the step that failed (issue 20: a create under load was
refused as a bare `[Errno 1] Operation not permitted`, Python's os functions naming no step)."""

from __future__ import annotations

from typing import Any

from runtime.container import child


def _raised_in_child(body: str) -> BaseException:
    """The exception a function of child.py's own source raises (its frame is child.py's)."""
    scope: dict[str, Any] = {"SetupError": child.SetupError}
    exec(compile(f"def _give_stdio_to():\n    {body}\n", child.__file__, "exec"), scope)
    try:
        scope["_give_stdio_to"]()
    except BaseException as exc:
        return exc
    raise AssertionError("it did not raise")


def test_a_bare_os_error_names_the_step() -> None:
    exc = _raised_in_child("raise OSError(1, 'Operation not permitted')")
    assert child._described(exc) == "[Errno 1] Operation not permitted (in _give_stdio_to)"


def test_messages_that_say_what_failed_are_kept() -> None:
    with_path = _raised_in_child("open('/nonexistent/x')")
    assert child._described(with_path) == str(with_path) and "/nonexistent/x" in str(with_path)
    setup = _raised_in_child("raise SetupError('unable to find user nosuchuser')")
    assert child._described(setup) == "unable to find user nosuchuser"
