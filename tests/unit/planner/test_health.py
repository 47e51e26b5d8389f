"""Docker's health-check rules, case by case (semantics.md §4)."""

from __future__ import annotations

import pytest

from orchestrator.planner.health import (
    MAX_OUTPUT,
    HealthCheck,
    HealthState,
    ProbeResult,
    apply_result,
    cap_output,
    next_probe_delay,
)

CHECK = HealthCheck(args=("true",), interval=10, timeout=5, start_period=30, start_interval=2, retries=3)


def fail(at: float) -> ProbeResult:
    return ProbeResult(at, at + 0.1, 1, "no")


def ok(at: float) -> ProbeResult:
    return ProbeResult(at, at + 0.1, 0, "yes")


def test_test_forms() -> None:
    assert HealthCheck.from_test(["CMD", "curl", "-f", "x"]).args == ("curl", "-f", "x")  # type: ignore[union-attr]
    assert HealthCheck.from_test(["CMD-SHELL", "curl -f x || exit 1"]).args == (  # type: ignore[union-attr]
        "/bin/sh", "-c", "curl -f x || exit 1")
    assert HealthCheck.from_test("exit 0").args == ("/bin/sh", "-c", "exit 0")  # type: ignore[union-attr]
    assert HealthCheck.from_test(["NONE"]) is None
    assert HealthCheck.from_test([]) is None
    with pytest.raises(ValueError):
        HealthCheck.from_test(["BOGUS", "x"])


def test_zero_means_default() -> None:
    check = HealthCheck.from_test(["CMD", "true"], interval=0, timeout=0, start_period=0, start_interval=0)
    assert check is not None
    assert (check.interval, check.timeout, check.start_period, check.start_interval, check.retries) == (
        30.0, 30.0, 0.0, 5.0, 3)


def test_one_success_is_healthy() -> None:
    assert apply_result(HealthState(), ok(1), CHECK, started_at=0).status == "healthy"


def test_failures_in_start_period_do_not_count_while_starting() -> None:
    state = HealthState()
    for t in (1, 5, 9, 13):
        state = apply_result(state, fail(t), CHECK, started_at=0)
    assert (state.status, state.failing_streak) == ("starting", 0)


def test_retries_failures_after_start_period_make_unhealthy() -> None:
    state = HealthState()
    for i, t in enumerate((31, 41, 51), start=1):
        state = apply_result(state, fail(t), CHECK, started_at=0)
        assert state.failing_streak == i
    assert state.status == "unhealthy"


def test_failures_count_in_start_period_once_healthy() -> None:
    state = apply_result(HealthState(), ok(1), CHECK, started_at=0)
    for t in (2, 3, 4):
        state = apply_result(state, fail(t), CHECK, started_at=0)
    assert state.status == "unhealthy"


def test_unhealthy_recovers_on_one_success() -> None:
    state = HealthState("unhealthy", 7)
    assert apply_result(state, ok(100), CHECK, started_at=0) == HealthState("healthy", 0, (ok(100),))


def test_log_keeps_the_last_five() -> None:
    state = HealthState()
    for t in range(40, 48):
        state = apply_result(state, fail(t), CHECK, started_at=0)
    assert [r.start for r in state.log] == [43, 44, 45, 46, 47]


def test_output_capped_at_4096_bytes() -> None:
    assert cap_output(b"x" * 5000) == "x" * MAX_OUTPUT + "..."
    assert cap_output(b"short") == "short"


def test_start_interval_applies_only_in_start_period_while_starting() -> None:
    assert next_probe_delay(5, 0, HealthState(), CHECK) == 2
    assert next_probe_delay(5, 0, HealthState("healthy"), CHECK) == 10
    assert next_probe_delay(31, 0, HealthState(), CHECK) == 10
    no_start_period = HealthCheck(args=("true",), interval=10, start_period=0, start_interval=2)
    assert next_probe_delay(0, 0, HealthState(), no_start_period) == 10
