"""Run one Compose project through `pyorch config` and through Docker Compose, the same way.

Both see the same working directory, the same environment and the same arguments; pyorch's CLI
runs in this process (its `main`, as the `pyorch` script calls it). What differs between the two
is only what must: nothing is normalised away except where a case says so.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.cli.main import main
from orchestrator.spec.yamlsource import parse_documents
from tests.compose_diff import reference
from tests.compose_diff.reference import Result

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
INVALID = HERE / "invalid"
HOME = "/home/compose-diff"  # for `~` in paths: the same fixed value for both


@dataclass
class Case:
    """A project directory and how to run `config` on it (its optional `case.toml`)."""

    directory: Path
    args: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    cwd: str = "."
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    formats: list[str] = field(default_factory=lambda: ["yaml", "json"])
    # Listings compared too (e.g. ["--services", "--profiles"]).
    listings: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def workdir(self) -> Path:
        return (self.directory / self.cwd).resolve()

    def environment(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": HOME, "PWD": str(self.workdir),
                **{k: v.replace("{dir}", str(self.directory)) for k, v in self.env.items()}}

    def config_args(self, fmt: str, extra: list[str] | None = None) -> list[str]:
        return [*self.args, "config", *(extra if extra is not None else ["--format", fmt]), *self.services]


def load_case(directory: Path) -> Case:
    spec: dict[str, Any] = {}
    if (directory / "case.toml").is_file():
        spec = tomllib.loads((directory / "case.toml").read_text())
    if "stdin" in spec:
        spec["stdin"] = (directory / spec["stdin"]).read_text()
    return Case(directory=directory, **spec)


def cases(root: Path) -> list[Case]:
    return [load_case(d) for d in sorted(root.iterdir()) if d.is_dir()]


@contextlib.contextmanager
def _process(env: dict[str, str], cwd: Path, stdin: str | None) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run_pyorch(args: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> Result:
    code: int | str | None = 0
    with _process(env, cwd, stdin) as (out, err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
    return Result(int(code or 0) if not isinstance(code, str) else 1, out.getvalue(), err.getvalue())


def run_compose(args: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> Result:
    return reference.run(args, cwd, env, stdin)


def run_both(case: Case, args: list[str]) -> tuple[Result, Result]:
    env = case.environment()
    return (run_pyorch(args, case.workdir, env, case.stdin), run_compose(args, case.workdir, env, case.stdin))


def ordered(node: Any) -> Any:
    """A tree where mappings are lists of (key, value) pairs: comparing two keeps their order."""
    if isinstance(node, dict):
        return [(k, ordered(v)) for k, v in node.items()]
    if isinstance(node, list) and node and all(isinstance(p, tuple) and len(p) == 2 for p in node):
        return [(k, ordered(v)) for k, v in node]
    if isinstance(node, list):
        return [ordered(v) for v in node]
    return node


def parse_output(text: str, fmt: str) -> Any:
    """`config` output as a tree, read the way Compose reads YAML (YAML 1.2 scalars)."""
    if fmt == "json":
        return ordered(json.loads(text, object_pairs_hook=list))
    documents = parse_documents(text, "<output>")
    return ordered(documents[0][0]) if documents else None


def _is_mapping(node: Any) -> bool:
    return isinstance(node, list) and bool(node) and isinstance(node[0], tuple)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two ordered trees first differ, in words (for assertion messages)."""
    if type(a) is not type(b):
        return f"{path or '/'}: pyorch {a!r} != compose {b!r}"
    if _is_mapping(a) or _is_mapping(b):
        keys_a, keys_b = [k for k, _ in a], [k for k, _ in b]
        if keys_a != keys_b:
            return f"{path or '/'}: keys pyorch {keys_a} != compose {keys_b}"
        for (key, va), (_, vb) in zip(a, b, strict=True):
            found = first_difference(va, vb, f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path or '/'}: {len(a)} items (pyorch) != {len(b)} (compose): {a!r} != {b!r}"
        for index, (va, vb) in enumerate(zip(a, b, strict=True)):
            found = first_difference(va, vb, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if a == b else f"{path or '/'}: pyorch {a!r} != compose {b!r}"
