"""Docker's restart manager numbers (semantics.md §3)."""

from __future__ import annotations

import pytest

from orchestrator.planner.restart import MAX_DELAY_S, RestartPolicy, next_delay, should_restart


def test_delay_sequence_doubles_from_100ms_and_caps_at_60s() -> None:
    delays, delay = [], 0.0
    for _ in range(12):
        delay = next_delay(delay, last_run_s=0.5)
        delays.append(round(delay, 3))
    assert delays[:10] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2]
    assert delays[10:] == [MAX_DELAY_S, MAX_DELAY_S]


def test_ten_seconds_up_resets_the_delay() -> None:
    assert next_delay(25.6, last_run_s=10.0) == pytest.approx(0.1)
    assert next_delay(25.6, last_run_s=9.9) == pytest.approx(51.2)


@pytest.mark.parametrize("text", ["bogus", "always:3", "on-failure:-1"])
def test_invalid_policies_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        RestartPolicy.parse(text)


def test_policy_aliases() -> None:
    assert RestartPolicy.parse(None).name == "no"
    assert RestartPolicy.parse("any").name == "always"
    assert RestartPolicy.parse("on-failure:5") == RestartPolicy("on-failure", 5)


def test_manual_stop_cancels_restarts_for_always_and_unless_stopped() -> None:
    for name in ("always", "unless-stopped"):
        assert should_restart(RestartPolicy(name), 0, 0, stopped_by_user=False)
        assert not should_restart(RestartPolicy(name), 0, 0, stopped_by_user=True)


def test_at_engine_boot_always_restarts_a_manually_stopped_container_but_unless_stopped_does_not() -> None:
    assert should_restart(RestartPolicy("always"), 0, 0, stopped_by_user=True, engine_boot=True)
    assert not should_restart(RestartPolicy("unless-stopped"), 0, 0, stopped_by_user=True, engine_boot=True)
    assert not should_restart(RestartPolicy("on-failure"), 1, 0, stopped_by_user=True, engine_boot=True)
