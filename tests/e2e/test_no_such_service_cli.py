"""A service the project's file does not have is refused by every verb that names services with
Compose's words and exit code (`no such service: NAME`, the first unknown name as typed, exit 1),
before anything is done: one function decides and words it (`NoSuchService.refuse_unknown`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.layout import HostLayout
from tests.helpers import pyorch

pytestmark = pytest.mark.root

COMPOSE = """
name: nosvc
services:
  web:
    image: pyorch.local/busybox:latest
    command: ["sleep", "100000"]
    ports: ["127.0.0.1::80"]
"""

VERBS: list[tuple[str, ...]] = [
    ("up", "-d", "nosuch", "zz"), ("start", "nosuch", "zz"), ("ps", "nosuch", "zz"), ("top", "nosuch", "zz"),
    ("stop", "nosuch", "zz"), ("restart", "nosuch", "zz"), ("kill", "nosuch", "zz"),
    ("pause", "nosuch", "zz"), ("unpause", "nosuch", "zz"), ("rm", "-f", "nosuch", "zz"),
    ("run", "--rm", "nosuch", "true"), ("port", "nosuch", "80"), ("build", "nosuch", "zz"),
    ("scale", "nosuch=2", "zz=1"), ("config", "--hash", "nosuch,zz"), ("logs", "nosuch", "zz"),
]


def test_every_verb_refuses_an_unknown_service_alike(layout: HostLayout, tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    pyorch(layout, "image", "bootstrap")
    pyorch(layout, "-f", str(compose), "up", "-d")
    try:
        before = json.loads(pyorch(layout, "-f", str(compose), "ps", "-a", "--format", "json").stdout)
        answers = {}
        for verb in VERBS:
            refused = pyorch(layout, "-f", str(compose), *verb, check=False)
            answers[verb[0]] = (refused.returncode, refused.stderr.strip().splitlines()[-1:])
        assert answers == {verb[0]: (1, ["error: no such service: nosuch"]) for verb in VERBS}
        after = json.loads(pyorch(layout, "-f", str(compose), "ps", "-a", "--format", "json").stdout)
        assert [(r["name"], r["id"], r["status"]) for r in after] == \
            [(r["name"], r["id"], r["status"]) for r in before]  # refused before anything was done
    finally:
        pyorch(layout, "-f", str(compose), "down", "-t", "0")
