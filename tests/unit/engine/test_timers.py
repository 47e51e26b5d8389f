"""The engine's one-shot timers: each job runs once, at or after its time, on a pool thread; a job
added with an earlier time than the one awaited is not held up by it; a failing job does not stop
the others; nothing runs after shutdown."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from orchestrator.engine.timers import Timers


def at(seconds: float) -> dt.datetime:
    return dt.datetime.now() + dt.timedelta(seconds=seconds)


def test_jobs_run_once_at_or_after_their_time_and_an_earlier_one_is_not_held_up() -> None:
    timers = Timers()
    timers.start()
    ran: list[tuple[str, float]] = []
    done = threading.Event()

    def job(name: str) -> None:
        ran.append((name, dt.datetime.now().timestamp()))
        if name == "soon":
            done.set()

    try:
        late = at(3600)
        timers.add_job(job, "date", run_date=late, args=["in an hour"])
        soon = at(0.05)
        timers.add_job(job, "date", run_date=soon, args=["soon"])  # the thread waits for the hour: woken
        timers.add_job(job, "date", run_date=at(-60), args=["overdue"], misfire_grace_time=None)
        assert done.wait(60)
        names = [name for name, _ in ran]
        assert sorted(names) == ["overdue", "soon"]  # once each; the hour's job is still waiting
        assert dict(ran)["soon"] >= soon.timestamp()
        assert timers.pending() == 1
    finally:
        timers.shutdown(wait=True)


def test_a_failing_job_does_not_stop_the_others_and_nothing_runs_after_shutdown() -> None:
    timers = Timers()
    timers.start()
    ran = threading.Event()

    def fails() -> None:
        raise RuntimeError("boom")

    timers.add_job(fails, "date", run_date=at(-1))
    timers.add_job(ran.set, "date", run_date=at(0))
    assert ran.wait(60)
    timers.shutdown(wait=True)
    after = threading.Event()
    timers.add_job(after.set, "date", run_date=at(-1))
    assert not after.wait(0.2)  # stopped: a job added now never runs


def test_only_one_shot_timers_exist() -> None:
    with pytest.raises(ValueError, match="only one-shot"):
        Timers().add_job(print, "interval", run_date=at(1))
