"""Hostile input: every refusal says where, and alias bombs are refused with bounded memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from orchestrator.spec import ComposeError, LoadOptions, load_project

BILLION_LAUGHS = "".join(
    f"x-{level}: &{level} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for level, prev in zip("abcdefghi", ["", *"abcdefgh"], strict=True)
) + "services:\n  web:\n    image: nginx\n    labels:\n      bomb: *i\n"


def _load(directory: Path) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        load_project(LoadOptions(working_dir=directory, environ={}))
    return info.value


def test_billion_laughs_is_refused_with_a_location_and_bounded_memory(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(BILLION_LAUGHS)  # 9^9 "lol" once expanded
    tracemalloc.start()
    try:
        error = _load(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "excessive aliasing" in error.message
    assert error.location is not None and error.location.file.endswith("compose.yaml")
    assert error.location.line is not None and 1 <= error.location.line <= 14
    assert peak < 32 * 1024 * 1024, f"{peak} bytes traced while refusing the bomb"


def test_aliases_within_yaml_v3_budget_load(tmp_path: Path) -> None:
    """Anchors used as people use them (shared blocks, a few levels) stay well inside the budget."""
    (tmp_path / "compose.yaml").write_text(
        "x-env: &env {A: '1', B: '2'}\nx-base: &base {image: busybox, environment: *env}\n"
        "services:\n" + "".join(f"  s{i}:\n    <<: *base\n" for i in range(200)))
    project = load_project(LoadOptions(working_dir=tmp_path, environ={}))
    assert len(project.services) == 200 and project.services["s7"].environment == {"A": "1", "B": "2"}


@pytest.mark.parametrize(("content", "line", "column"), [
    (b"services:\n  web:\n    image: nginx\x00\n", 3, 17),
    (b"services:\n  web:\n    image: nginx\n    labels:\n      owner: \"Jos\xe9\"\n", 5, 18),
    (b"services:\n  web:\n    image: \x07bell\n", 3, 12),
])
def test_forbidden_bytes_in_a_compose_file_are_located(tmp_path: Path, content: bytes, line: int,
                                                       column: int) -> None:
    (tmp_path / "compose.yaml").write_bytes(content)
    error = _load(tmp_path)
    assert error.location is not None
    assert (Path(error.location.file).name, error.location.line, error.location.column) == \
        ("compose.yaml", line, column)


@pytest.mark.parametrize(("content", "line"), [(b"A=1\nB=caf\xe9\n", 2), (b"A=1\n\nB\x00C=1\n", 3)])
def test_forbidden_bytes_in_dotenv_are_located(tmp_path: Path, content: bytes, line: int) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n")
    (tmp_path / ".env").write_bytes(content)
    error = _load(tmp_path)
    assert error.location is not None
    assert (Path(error.location.file).name, error.location.line) == (".env", line)


def test_nul_on_stdin_is_located() -> None:
    with pytest.raises(ComposeError) as info:
        load_project(LoadOptions(files=[Path("-")], stdin_text="services:\n  a:\n    image: x\x00", environ={}))
    assert info.value.location is not None and info.value.location.file == "-"
    assert info.value.location.line == 3
