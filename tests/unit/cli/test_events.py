"""`pyorch events`: stored events in Compose's shape, and the query that starts the stream now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from orchestrator.cli.cmd_events import ServiceOf, compose_event, events_query, text_line


def _event(kind: str, subject: str, **detail: Any) -> dict[str, Any]:
    return {"id": 7, "ts": 1_700_000_000.25, "project": "shop", "kind": kind, "subject": subject, "detail": detail}


def test_container_events_look_like_compose() -> None:
    service_of = ServiceOf("shop", [{"name": "shop-web-1", "service": "web"}])
    die = compose_event(_event("container-die", "shop-web-1", id="f00d" * 16, exit_code=137, oom_killed=False),
                        service_of)
    assert (die["type"], die["action"], die["id"], die["service"]) == ("container", "die", "f00d" * 16, "web")
    assert die["attributes"] == {"name": "shop-web-1", "exitCode": "137", "oomKilled": "False"}
    assert dt.datetime.fromisoformat(die["time"]).timestamp() == 1_700_000_000.25
    line = text_line(die)
    assert line.endswith(f" container die {'f00d' * 16} (name=shop-web-1, exitCode=137, oomKilled=False)")
    assert dt.datetime.strptime(line[:26], "%Y-%m-%d %H:%M:%S.%f").timestamp() == 1_700_000_000.25


def test_services_are_learnt_and_guessed() -> None:
    service_of = ServiceOf("shop", [])
    start = compose_event(_event("container-start", "shop-api-worker-3", id="1", service="api-worker"), service_of)
    assert start["service"] == "api-worker" and start["action"] == "start"
    # the start taught it: later events of the container say only its id
    assert compose_event(_event("container-stop", "shop-api-worker-3", id="1"), service_of)["service"] == "api-worker"
    assert service_of("shop-db-2") == "db" and service_of("shop-app-run-0a1b2c") == "app"
    assert service_of("custom_name") == ""


def test_other_kinds_keep_pyorch_names() -> None:
    service_of = ServiceOf("shop", [{"name": "shop-web-1", "service": "web"}])
    health = compose_event(_event("health_status", "shop-web-1", id="9", status="unhealthy", failing_streak=3),
                           service_of)
    assert health["action"] == "health_status: unhealthy" and health["attributes"]["failing_streak"] == "3"
    update = compose_event(_event("update-started", "web", revision=4), service_of)
    assert (update["type"], update["action"], update["service"], update["id"]) == ("service", "update-started",
                                                                                   "web", "web")
    down = compose_event(_event("down", "shop", removed=3), service_of)
    assert (down["type"], down["service"], down["attributes"]) == ("project", "", {"removed": "3"})


def test_the_stream_starts_now_unless_asked_otherwise() -> None:
    now = 100.5
    assert events_query("p", None, None, False, now) == "/v1/events?project=p&since=100.5&follow=1"
    assert events_query("p", 50.0, None, False, now) == "/v1/events?project=p&since=50.0&follow=1"
    assert events_query("p", None, None, True, now) == "/v1/events?project=p&follow=0"   # all stored, then stop
    assert events_query("p", 50.0, 90.0, False, now) == "/v1/events?project=p&since=50.0&until=90.0&follow=0"
    assert events_query("p", None, 200.0, False, now) == "/v1/events?project=p&since=100.5&until=200.0&follow=1"
