"""The interactive dashboard without a terminal: keys → state and effects, states → rendered frames.

Frames are rendered by rich into text at the sizes people use: 80×24 (an SSH session) and 200×60.
"""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from orchestrator.dashboard import model
from orchestrator.dashboard.keys import decode
from orchestrator.dashboard.model import Act, Exec, FollowLogs, Quit, State, StopLogs, Target
from orchestrator.dashboard.snapshot import Snapshot, build_snapshot
from orchestrator.dashboard.view import SELECTED, render


def _ps(service: str, number: int, status: str = "running", pid: int = 100, restarts: int = 0) -> dict[str, Any]:
    return {"id": f"{service}{number}".ljust(64, "0"), "name": f"shop-{service}-{number}", "service": service,
            "number": number, "status": status, "restart_count": restarts, "health": None, "pid": pid,
            "started_at": 1000.0, "exit_code": 137 if status == "exited" else None, "image": "busybox",
            "ports": ["0.0.0.0:8080->80/tcp"] if service == "web" else []}


def _snapshot(web_replicas: int = 2, web_pid: int = 100, db_status: str = "running") -> Snapshot:
    ps = [_ps("db", 1, status=db_status, pid=50)] + [_ps("web", n, pid=web_pid + n) for n in
                                                       range(1, web_replicas + 1)]
    stats = [{"id": r["id"], "read_at": 1.0, "cpu_usage_ns": 0, "memory_bytes": 1 << 20, "memory_limit": None,
              "pids": 2} for r in ps if r["status"] == "running"]
    rollouts = [{"service": "web", "kind": "update", "status": "updating", "updated": 1, "total": 2, "failed": 0,
                 "message": "replacing shop-web-2"}]
    return build_snapshot("shop", {"db": 1, "web": 2}, ps, stats, stats, rollouts, 1060.0)


def _keys(state: State, *keys: str) -> tuple[State, list[model.Effect]]:
    effects: list[model.Effect] = []
    for key in keys:
        state, more = model.on_key(state, key)
        effects += more
    return state, effects


def _started() -> State:
    return model.on_snapshot(State(), _snapshot())


def _text(state: State, width: int, height: int) -> list[str]:
    console = Console(width=width, height=height, record=True, color_system=None, legacy_windows=False)
    console.print(render(state, width, height))
    lines = console.export_text().rstrip("\n").split("\n")
    assert len(lines) <= height and all(len(line) <= width for line in lines), "the frame overflows"
    return lines


# --- keys ----------------------------------------------------------------------------------------

def test_terminal_bytes_become_keys() -> None:
    assert decode(b"j\x1b[Bq") == ["j", "down", "q"]
    assert decode(b"\x1bOA\x1b[5~\x1b[6~\r\x03") == ["up", "pgup", "pgdn", "enter", "ctrl-c"]
    assert decode(b"\x1b") == ["esc"]
    assert decode(b"\x1b[15~x") == ["unknown", "x"]   # F5: ignored whole, not read as keys
    assert decode("é".encode()) == ["é"]


# --- the state machine ---------------------------------------------------------------------------

def test_rows_are_services_each_followed_by_its_containers() -> None:
    assert model.rows(_snapshot()) == [Target("db"), Target("db", "shop-db-1", 1), Target("web"),
                                       Target("web", "shop-web-1", 1), Target("web", "shop-web-2", 2)]


def test_moving_the_selection_stops_at_the_ends() -> None:
    state = _started()
    assert state.selected == Target("db")
    state, _ = _keys(state, "down", "j", "down")
    assert state.selected == Target("web", "shop-web-1", 1)
    state, _ = _keys(state, "end", "down")
    assert state.selected == Target("web", "shop-web-2", 2)
    state, _ = _keys(state, "home", "up", "k")
    assert state.selected == Target("db")


def test_logs_pane_follows_the_selection_and_closes() -> None:
    state, effects = _keys(_started(), "down", "enter")
    db1 = Target("db", "shop-db-1", 1)
    assert (state.pane, state.pane_target, effects) == ("logs", db1, [FollowLogs(db1)])
    state = model.on_logs(state, db1, ["ready", "listening"])
    state = model.on_logs(state, Target("web"), ["not shown"])   # a pane closed since
    assert state.logs == ("ready", "listening")
    state, effects = _keys(state, "down", "enter")               # another row: the pane follows it
    assert state.pane_target == Target("web") and effects == [FollowLogs(Target("web"))] and state.logs == ()
    state, effects = _keys(state, "enter")
    assert (state.pane, effects) == ("none", [StopLogs()])


def test_scrolling_back_holds_the_view_while_lines_come() -> None:
    state, _ = _keys(_started(), "enter")
    state = model.on_logs(state, Target("db"), [f"line {i}" for i in range(100)])
    state, _ = model.on_key(state, "pgup", page=10)
    assert state.log_scroll == 10
    state = model.on_logs(state, Target("db"), ["line 100"])
    assert state.log_scroll == 11                               # the same lines stay on screen
    state, _ = _keys(state, "pgdn", "pgdn")
    assert state.log_scroll == 0


def test_restart_and_stop_ask_first_start_does_not() -> None:
    state, _ = _keys(_started(), "down", "down", "down")
    web1 = Target("web", "shop-web-1", 1)
    state, effects = _keys(state, "r")
    assert state.confirm == Act("restart", web1) and effects == []
    state, effects = _keys(state, "y")
    assert effects == [Act("restart", web1)] and state.busy == "restarting shop-web-1…" and state.confirm is None
    state, effects = _keys(state, "s")
    assert effects == [] and "wait" in state.message                     # one action at a time
    state = model.on_done(state, "restarted shop-web-1", True)
    state, effects = _keys(state, "s", "n")
    assert (effects, state.message, state.busy) == ([], "cancelled", None)
    state, effects = _keys(state, "S")
    assert effects == [Act("start", web1)]


def test_exec_opens_a_shell_in_the_selected_or_first_running_container() -> None:
    state, effects = _keys(_started(), "down", "down", "e")
    assert effects == [Exec("web", 1, "shop-web-1")]          # the service row: its first running replica
    state, effects = _keys(state, "down", "down", "e")
    assert effects == [Exec("web", 2, "shop-web-2")]
    stopped = model.on_snapshot(State(), _snapshot(db_status="exited"))
    state, effects = _keys(stopped, "down", "e")
    assert effects == [] and "no running container" in state.message
    assert "exit code 2" in model.on_exec_done(state, "shop-web-1", 2).message


def test_rollback_asks_then_follows_the_rollout() -> None:
    state, _ = _keys(_started(), "down", "down", "down", "enter")     # the logs of shop-web-1 open
    state, effects = _keys(state, "b")
    assert state.confirm == Act("rollback", Target("web"))
    state, effects = _keys(state, "y")
    assert effects == [StopLogs(), Act("rollback", Target("web"))]
    assert (state.pane, state.pane_target) == ("rollout", Target("web"))


def test_a_new_sample_keeps_the_selection_or_falls_back_to_its_service() -> None:
    state, _ = _keys(_started(), "end")
    assert state.selected == Target("web", "shop-web-2", 2)
    state = model.on_snapshot(state, _snapshot(web_pid=500))
    assert state.selected == Target("web", "shop-web-2", 2)
    state = model.on_snapshot(state, _snapshot(web_replicas=1))     # shop-web-2 went away
    assert state.selected == Target("web")


def test_quit() -> None:
    for key in ("q", "ctrl-c"):
        state, effects = _keys(_started(), key)
        assert state.quitting and effects == [Quit()]


# --- frames --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 60)])
def test_frame_fills_the_terminal_with_the_list_details_and_keys(width: int, height: int) -> None:
    state, _ = _keys(_started(), "down", "down", "down")
    lines = _text(state, width, height)
    assert len(lines) == height
    assert lines[0].startswith("pyorch · shop · ")
    selected = [line for line in lines if line.startswith(SELECTED)]
    assert len(selected) == 1 and "web-1" in selected[0] and "running" in selected[0]
    web = next(line for line in lines if line.startswith("  web "))
    assert "2/2" in web
    detail = next(line for line in lines if line.startswith("shop-web-1  id "))
    assert "pid 101" in detail and "up 1m" in detail
    keys = " ".join(lines[-2:])
    assert "r restart" in keys and "q quit" in keys and "⏎ logs" in keys
    assert ("ROLLOUT" in lines[1] and "update updating 1/2" in web) == (width >= 100)   # more columns when wide


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 60)])
def test_logs_pane_shows_the_newest_lines_that_fit(width: int, height: int) -> None:
    state, _ = _keys(_started(), "down", "enter")
    state = model.on_logs(state, Target("db", "shop-db-1", 1), [f"db line {i}" for i in range(300)])
    lines = _text(state, width, height)
    assert len(lines) == height and any("logs · shop-db-1 (following)" in line for line in lines)
    shown = [int(line.split("db line ")[1].split()[0]) for line in lines if "db line " in line]
    assert shown[-1] == 299 and shown == list(range(300 - len(shown), 300)) and len(shown) >= 8
    assert "shop-db-1  id " in "\n".join(lines) and "q quit" in lines[-1]
    state, _ = model.on_key(state, "pgup", page=50)
    scrolled = _text(state, width, height)
    assert any("50 lines back" in line for line in scrolled)
    assert max(int(line.split("db line ")[1].split()[0]) for line in scrolled if "db line " in line) == 249


def test_log_lines_keep_colours_but_cannot_move_the_cursor() -> None:
    state, _ = _keys(_started(), "down", "enter")
    state = model.on_logs(state, Target("db", "shop-db-1", 1), ["\x1b[31mred\x1b[0m\x1b[2J\x1b[Hplain\x07\tend"])
    line = next(line for line in _text(state, 80, 24) if "red" in line)
    assert "redplain    end" in line


def test_question_replaces_the_keys_and_rollout_pane_shows_progress_and_events() -> None:
    state, _ = _keys(_started(), "down", "down", "o")
    event = {"time": "2026-01-02T03:04:05+00:00", "type": "service", "action": "update-started", "id": "web",
             "service": "web", "attributes": {"revision": "4"}}
    state = model.on_event(state, event)
    state = model.on_event(state, {**event, "service": "db", "action": "not-this-one"})
    lines = _text(state, 80, 24)
    text = "\n".join(lines)
    assert "rollout · service web" in text and "update updating 1/2" in text and "replacing shop-web-2" in text
    assert "update-started web revision=4" in text and "not-this-one" not in text
    state, _ = _keys(state, "b")
    assert "Roll back to the previous configuration: service web?" in _text(state, 80, 24)[-1]


def test_help_and_small_terminals() -> None:
    state, _ = _keys(_started(), "?")
    assert any("restart the selection" in line for line in _text(state, 80, 24))
    for width, height in ((40, 10), (80, 5)):
        assert len(_text(state, width, height)) <= height
    waiting = _text(model.on_sample_error(State(), "cannot reach the pyorch engine"), 80, 24)
    assert "engine: cannot reach the pyorch engine" in waiting[0]


def test_the_shell_is_pyorch_exec_of_the_chosen_replica() -> None:
    import sys

    from orchestrator.dashboard.live import shell_command

    assert shell_command("shop", Exec("web", 2, "shop-web-2")) == [
        sys.executable, "-m", "orchestrator.cli", "-p", "shop", "exec", "--index", "2", "web", "sh"]


class _FakeClient:
    """Records the API calls an action makes; answers as the engine does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        self.calls.append((method, path, body))
        if path.endswith("/stop"):
            return {"stopped": body.get("containers") or ["shop-web-1", "shop-web-2"]}
        if path.endswith("/start"):
            return {"started": body.get("containers") or ["shop-web-1", "shop-web-2"], "errors": []}
        return {"revision": 7}


def test_actions_go_to_the_api_for_exactly_the_selection() -> None:
    from orchestrator.dashboard.live import perform

    client = _FakeClient()
    web2 = Target("web", "shop-web-2", 2)
    assert perform(client, "shop", Act("restart", web2)) == ("restarted shop-web-2", True)
    assert client.calls == [("POST", "/v1/projects/shop/stop", {"services": ["web"], "containers": ["shop-web-2"]}),
                            ("POST", "/v1/projects/shop/start", {"services": ["web"], "containers": ["shop-web-2"]})]
    client.calls.clear()
    assert perform(client, "shop", Act("stop", Target("web")))[0] == "stopped shop-web-1, shop-web-2"
    assert client.calls == [("POST", "/v1/projects/shop/stop", {"services": ["web"]})]
    client.calls.clear()
    assert perform(client, "shop", Act("rollback", Target("web"))) == (
        "rollback of web started (revision 7)", True)
    assert client.calls == [("POST", "/v1/projects/shop/rollback", {"service": "web"})]
