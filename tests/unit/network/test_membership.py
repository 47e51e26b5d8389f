"""Published-port membership: add, drain, remove, and what a full publish keeps (pure)."""

from __future__ import annotations

from runtime.network.membership import (
    Membership,
    active_backends,
    membership_of,
    replaced,
    with_added,
    with_drained,
    with_removed,
)

BINDINGS = [{"host_ip": None, "host_port": 8080, "container_port": 80, "protocol": "tcp"}]


def test_a_drained_backend_leaves_the_rotation_but_stays_known() -> None:
    entry = replaced(None, BINDINGS, ["10.0.0.2", "10.0.0.3", "10.0.0.4"])
    drained = with_drained(entry, "10.0.0.3")
    assert active_backends(drained) == ("10.0.0.2", "10.0.0.4")
    assert membership_of(drained) == Membership(("10.0.0.2", "10.0.0.4"), ("10.0.0.3",))
    assert with_drained(drained, "10.0.0.3") == drained  # idempotent
    assert with_drained(entry, "10.0.0.9") == entry  # unknown backends are not invented


def test_a_full_publish_keeps_drain_marks_of_listed_backends_only() -> None:
    drained = with_drained(replaced(None, BINDINGS, ["10.0.0.2", "10.0.0.3"]), "10.0.0.3")
    again = replaced(drained, BINDINGS, ["10.0.0.2", "10.0.0.3", "10.0.0.5"])
    assert active_backends(again) == ("10.0.0.2", "10.0.0.5")
    gone = replaced(again, BINDINGS, ["10.0.0.2", "10.0.0.5"])
    assert gone["draining"] == []
    assert active_backends(replaced(gone, BINDINGS, ["10.0.0.2", "10.0.0.3", "10.0.0.5"])) == (
        "10.0.0.2", "10.0.0.3", "10.0.0.5")


def test_add_undrains_or_appends_and_remove_forgets() -> None:
    entry = with_drained(replaced(None, BINDINGS, ["10.0.0.2", "10.0.0.3"]), "10.0.0.2")
    back = with_added(entry, "10.0.0.2")
    assert active_backends(back) == ("10.0.0.2", "10.0.0.3")
    more = with_added(back, "10.0.0.7")
    assert active_backends(more) == ("10.0.0.2", "10.0.0.3", "10.0.0.7")
    removed = with_removed(with_drained(more, "10.0.0.3"), "10.0.0.3")
    assert membership_of(removed) == Membership(("10.0.0.2", "10.0.0.7"), ())
