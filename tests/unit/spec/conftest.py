"""Helpers for loader tests: write a project into a temporary directory and load it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.spec import LoadOptions, Project, load_project

Write = Callable[..., Path]
Load = Callable[..., Project]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """write("compose.yaml", yaml_text) → the file's path (text is dedented)."""
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path
    return _write


@pytest.fixture
def load(tmp_path: Path) -> Load:
    """load(files=[...], environ={...}, ...) with the temporary directory as working dir."""
    def _load(**kwargs: object) -> Project:
        kwargs.setdefault("working_dir", tmp_path)
        kwargs.setdefault("environ", {})
        return load_project(LoadOptions(**kwargs))  # type: ignore[arg-type]
    return _load
