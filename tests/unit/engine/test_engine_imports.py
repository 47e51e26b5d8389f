"""What the engine process imports at start: libraries only some requests need are imported by
those requests (each costs the long-lived engine its RSS whether it is used or not; docs/engine.md,
"Fleets of hundreds")."""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = ("httpx",)  # registry pulls and `ADD <url>` only


def test_the_engine_does_not_import_what_only_some_requests_use() -> None:
    code = ("import json, sys; import orchestrator.engine.daemon; "
            f"print(json.dumps([m for m in {LAZY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
