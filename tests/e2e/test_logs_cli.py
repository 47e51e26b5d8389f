"""`pyorch logs` as a user meets it: a flood that stays within its cap, and the lines of replicas
that are gone."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

from runtime.container.logfile import log_files
from runtime.layout import HostLayout
from tests.helpers import pyorch, wait_until, write

pytestmark = pytest.mark.root

FLOOD = """
name: flood
services:
  noisy:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "timeout 10 yes 'flood line of a container writing as fast as it can'; echo done; sleep 3600"]
    init: true
    logging:
      driver: json-file
      options: {max-size: 1m, max-file: "3"}
"""


def container_ids(layout: HostLayout, file: str) -> list[str]:
    rows = json.loads(pyorch(layout, "-f", file, "ps", "-a", "--format", "json").stdout)
    return [str(r["id"]) for r in rows]


def log_bytes(layout: HostLayout, cid: str) -> int:
    """The log's files as they are now: one the shim rotates away between the listing and its
    stat counts nothing (an exists() check before the stat still lost that race)."""
    total = 0
    for f in log_files(layout.containers_dir / cid / "ctr.log"):
        try:
            total += f.stat().st_size
        except FileNotFoundError:
            pass
    return total


def test_a_flooding_container_stays_within_its_cap_and_logs_answer(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, FLOOD)
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        [cid] = container_ids(layout, file)
        peak = 0
        answers = 0
        took: list[float] = []
        deadline = time.monotonic() + 300  # a guard against a flood that never ends, not a timing check
        while True:
            peak = max(peak, log_bytes(layout, cid))
            started = time.monotonic()
            tail = pyorch(layout, "-f", file, "logs", "--tail", "5", "--no-log-prefix", "noisy").stdout.splitlines()
            took.append(time.monotonic() - started)
            assert len(tail) == 5, tail
            answers += 1
            # `yes` was killed mid-line: "done" may end its last line. The shell's "Terminated" goes
            # to stderr, another pipe than "done", so either may be logged first.
            if any(line.endswith("done") for line in tail[-2:]):
                break
            full = "flood line of a container writing as fast as it can"
            if "Terminated" not in tail:  # what busybox's timeout prints when it ends the flood
                assert all(line == full for line in tail[:-1]) and full.startswith(tail[-1]), tail  # last may be open
            assert time.monotonic() < deadline, "the flood did not end"
        peak = max(peak, log_bytes(layout, cid))
        files = log_files(layout.containers_dir / cid / "ctr.log")
        print(f"log flood: peak {peak / (1 << 20):.2f} MiB on disk, {answers} `logs --tail 5` answered meanwhile, "
              f"median {statistics.median(took) * 1000:.0f} ms each (the CLI's start included)")
        assert [f.name for f in files] == ["ctr.log.2", "ctr.log.1", "ctr.log"]
        assert peak <= 3 * (1 << 20)
        assert answers >= 2  # `logs --tail` answered while the container was writing
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


CRASHING = """
name: crashy
services:
  app:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo starting attempt; echo 'boom: cannot reach the database' >&2; exit 3"]
    restart: always
"""
FIXED = CRASHING.replace('"sh", "-c", "echo starting attempt; echo \'boom: cannot reach the database\' >&2; exit 3"',
                         '"sh", "-c", "echo fixed and serving; sleep 3600"')


def test_a_crash_looping_replicas_lines_outlive_its_replacement(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, CRASHING)
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        wait_until(lambda: pyorch(layout, "-f", file, "logs", "app").stdout.count("starting attempt") >= 3,
                   "the service to crash three times")
        [old] = container_ids(layout, file)
        write(tmp_path, FIXED)
        pyorch(layout, "-f", file, "up", "-d")
        [new] = container_ids(layout, file)
        assert new != old
        wait_until(lambda: "fixed and serving" in pyorch(layout, "-f", file, "logs", "app").stdout, "the fixed one")
        logs = pyorch(layout, "-f", file, "logs", "--no-log-prefix", "app").stdout.splitlines()
        assert logs.count("boom: cannot reach the database") >= 3  # what the removed replica printed
        assert logs.index("fixed and serving") > max(i for i, line in enumerate(logs) if line.startswith("boom"))
        assert "boom" in pyorch(layout, "-f", file, "logs", "--index", "1", "app").stdout
        assert pyorch(layout, "-f", file, "logs", "--index", "2", "app").stdout == ""
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")
    assert not (layout.state_root / "logs" / "crashy").exists()  # `down` takes the kept logs too


TWO = """
name: attached
services:
  first:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo from first :rocket:"]
  second:
    image: pyorch.local/busybox:latest
    command: ["sh", "-c", "echo from second"]
"""


def test_attached_up_prints_the_services_asked_for(layout: HostLayout, tmp_path: Path) -> None:
    file = write(tmp_path, TWO)
    pyorch(layout, "image", "bootstrap")
    try:
        shown = pyorch(layout, "-f", file, "up", "--attach", "first", "--timestamps", "--no-color").stdout
        lines = [line for line in shown.splitlines() if "from " in line]
        assert len(lines) == 1 and lines[0].startswith("attached-first-1  | 20")  # an RFC 3339 time first
        assert lines[0].endswith(" from first :rocket:")  # the text as written, no emoji
        shown = pyorch(layout, "-f", file, "up", "--no-attach", "first", "--no-log-prefix").stdout
        assert [line for line in shown.splitlines() if "from " in line] == ["from second"]
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")


EXACT = """
name: exact
services:
  app:
    image: pyorch.local/busybox:latest
    command:
      - sh
      - -c
      - "echo ':smile: deployed [bold]v2[/] :rocket:'; yes a | head -n 200000 | tr -d '\\n'; echo; echo after; sleep 1d"
    init: true
"""


def test_logs_print_what_the_container_wrote(layout: HostLayout, tmp_path: Path) -> None:
    """Issue 20: `logs` turned `:smile:` into an emoji and ate `[bold]` (rich markup), also with
    --no-color, and printed a 200 KB line as four (the shim's partial records)."""
    file = write(tmp_path, EXACT)
    pyorch(layout, "image", "bootstrap")
    try:
        pyorch(layout, "-f", file, "up", "-d")
        wait_until(lambda: "after" in pyorch(layout, "-f", file, "logs", "app").stdout, "the app's output")
        expected = [":smile: deployed [bold]v2[/] :rocket:", "a" * 200_000, "after"]
        for flags in ([], ["--no-color"]):
            out = pyorch(layout, "-f", file, "logs", *flags, "app").stdout
            assert out.splitlines() == [f"exact-app-1  | {line}" for line in expected], out[:300]
        out = pyorch(layout, "-f", file, "logs", "--no-log-prefix", "--tail", "2", "app").stdout
        assert out == "a" * 200_000 + "\nafter\n"
    finally:
        pyorch(layout, "-f", file, "down", "-t", "1")
