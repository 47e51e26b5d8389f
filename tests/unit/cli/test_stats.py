"""`pyorch stats`: CPU percentages from two cgroup samples, rows and formats as Docker prints them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.cli import gotemplate
from orchestrator.cli.cmd_stats import FIELDS, docker_size, format_rows, stats_rows
from orchestrator.dashboard.snapshot import cpu_percentages
from orchestrator.errors import PyorchError


def test_cpu_percent_is_usage_over_elapsed_time() -> None:
    before = [{"id": "a", "read_at": 10.0, "cpu_usage_ns": 1_000_000_000},
              {"id": "b", "read_at": 10.0, "cpu_usage_ns": 0}]
    after = [{"id": "a", "read_at": 12.0, "cpu_usage_ns": 2_000_000_000},
             {"id": "b", "read_at": 12.0, "cpu_usage_ns": 3_000_000_000},
             {"id": "c", "read_at": 12.0, "cpu_usage_ns": 5}]
    assert cpu_percentages(before, after) == {"a": 50.0, "b": 150.0}  # c: no earlier sample


def _sample(cid: str, name: str, cpu_ns: int, at: float, limit: int | None = None) -> dict[str, Any]:
    return {"id": cid * 64, "name": name, "service": name.split("-")[1], "read_at": at, "cpu_usage_ns": cpu_ns,
            "memory_bytes": 3 << 20, "memory_limit": limit, "pids": 2, "pids_limit": None}


def _rows() -> list[dict[str, Any]]:
    before = [_sample("a", "p-web-1", 0, 1.0), _sample("b", "p-db-1", 0, 1.0, limit=12 << 20)]
    after = [_sample("a", "p-web-1", 250_000_000, 2.0), _sample("b", "p-db-1", 0, 2.0, limit=12 << 20)]
    stopped = [{"id": "c" * 64, "name": "p-cache-1", "service": "cache"}, {"id": "a" * 64, "name": "p-web-1",
                                                                         "service": "web"}]
    return stats_rows(before, after, stopped, no_trunc=False, memory_total=8 << 30)


def test_rows_carry_docker_fields_and_stopped_containers_show_zeros() -> None:
    rows = {r["Name"]: r for r in _rows()}
    assert list(rows) == ["p-cache-1", "p-db-1", "p-web-1"]   # sorted by name, the stopped one too
    web, db, cache = rows["p-web-1"], rows["p-db-1"], rows["p-cache-1"]
    assert (web["ID"], web["CPUPerc"], web["MemUsage"], web["PIDs"]) == ("a" * 12, "25.00%", "3MiB / 8GiB", "2")
    assert db["MemPerc"] == "25.00%" and db["MemUsage"] == "3MiB / 12MiB"   # against its own limit
    assert (cache["CPUPerc"], cache["MemUsage"], cache["PIDs"]) == ("0.00%", "0B / 0B", "0")
    assert web["cpu_percent"] == 25.0 and web["memory_bytes"] == 3 << 20   # the raw numbers too


def test_formats() -> None:
    table = format_rows("table", _rows())
    assert table[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%", "PIDS"]
    assert len({line.index("p-") for line in table[1:]}) == 1   # columns aligned
    assert [json.loads(line)["Name"] for line in format_rows("json", _rows())] == ["p-cache-1", "p-db-1", "p-web-1"]
    assert format_rows("{{.Name}}: {{ .CPUPerc }}", _rows())[2] == "p-web-1: 25.00%"
    custom = format_rows("table {{.Name}}\\t{{.PIDs}}", _rows())
    assert custom[0].split() == ["NAME", "PIDS"] and custom[3].split() == ["p-web-1", "2"]
    assert json.loads(format_rows("{{json .}}", _rows())[1])["Name"] == "p-db-1"


@pytest.mark.parametrize(("template", "message"), [
    ("{{.NetIO}}", "can't evaluate field NetIO"),
    ("{{range .}}", "is not supported"),
    ("{{.Name", "unclosed"),
])
def test_bad_templates_are_refused(template: str, message: str) -> None:
    with pytest.raises(PyorchError, match=message):
        gotemplate.parse(template, FIELDS)


def test_docker_sizes() -> None:
    assert [docker_size(v) for v in (0, 512, 4096, 1.5 * (1 << 20), 1_613_824, 5 << 30)] == \
        ["0B", "512B", "4KiB", "1.5MiB", "1.539MiB", "5GiB"]
