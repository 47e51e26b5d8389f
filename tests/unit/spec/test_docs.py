"""docs/compose-compatibility.md stays true: one row per spec key, with the status the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.spec.model import ComposeFile
from orchestrator.spec.support import APPLIED_KEYS, PLANNED_KEYS, service_spec_keys, status_of

DOC = Path(__file__).resolve().parents[3] / "docs" / "compose-compatibility.md"


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def test_every_service_key_is_documented_with_its_status() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| (\w+) \|", _section("Service keys"), re.MULTILINE)
    documented = dict(rows)
    assert len(rows) == len(documented), "a key is listed twice"
    assert sorted(documented) == service_spec_keys()
    wrong = {k: (v, status_of(k)) for k, v in documented.items() if v != status_of(k)}
    assert wrong == {}


def test_every_top_level_key_is_documented() -> None:
    rows = set(re.findall(r"^\| `([^`]+)` \|", _section("Top-level keys"), re.MULTILINE))
    assert rows == {*ComposeFile.model_fields, "x-*"}


def test_support_lists_name_real_keys() -> None:
    known = set(service_spec_keys())
    assert APPLIED_KEYS <= known
    assert PLANNED_KEYS <= known
    assert not APPLIED_KEYS & PLANNED_KEYS
