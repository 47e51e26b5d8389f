"""CPU percentages from two cgroup samples, as `pyorch stats` shows them."""

from __future__ import annotations

from orchestrator.cli.cmd_project import cpu_percentages


def test_cpu_percent_is_usage_over_elapsed_time() -> None:
    before = [{"id": "a", "read_at": 10.0, "cpu_usage_ns": 1_000_000_000},
              {"id": "b", "read_at": 10.0, "cpu_usage_ns": 0}]
    after = [{"id": "a", "read_at": 12.0, "cpu_usage_ns": 2_000_000_000},
             {"id": "b", "read_at": 12.0, "cpu_usage_ns": 3_000_000_000},
             {"id": "c", "read_at": 12.0, "cpu_usage_ns": 5}]
    assert cpu_percentages(before, after) == {"a": 50.0, "b": 150.0}  # c: no earlier sample
