"""Service discovery follows containers as they come and go: the engine over the in-memory runtime,
with a DNS server that records what it was told and when (no kernel)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from orchestrator.engine.discovery import dns_tables
from orchestrator.engine.labels import Labelled
from orchestrator.engine.project_ops import UpOptions
from tests.unit.engine.fakes import Harness, build

CHAIN = """
name: demo
services:
  db:
    image: busybox
  web:
    image: busybox
    depends_on: [db]
    deploy: {replicas: 2}
    networks: {default: {aliases: [www]}}
"""


class RecordingDns:
    """The DNS server's interface; every table it is given is kept with the runtime calls made so far."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.tables: dict[str, dict[str, list[str]]] = {}
        self.history: list[tuple[int, str, dict[str, list[str]]]] = []

    def set_network(self, name: str, gateway: str, forward: bool = True) -> None:
        self.tables.setdefault(name, {})

    def set_records(self, name: str, records: Mapping[str, Iterable[str]]) -> None:
        self.tables[name] = {k: sorted(v) for k, v in records.items()}
        self.history.append((len(self.h.runtime.calls), name, self.tables[name]))

    def add(self, records: Mapping[str, Mapping[str, Iterable[str]]], views: Mapping[str, list[str]]) -> bool:
        if any(name not in self.tables for name in records):
            return False
        for name, table in records.items():
            merged = dict(self.tables[name])
            for key, ips in table.items():
                merged[key] = sorted({*merged.get(key, ()), *ips})
            self.tables[name] = merged
            self.history.append((len(self.h.runtime.calls), name, merged))
        return True

    def forget(self, addresses: Iterable[str]) -> None:
        gone = set(addresses)
        for name, table in self.tables.items():
            self.tables[name] = {k: [ip for ip in v if ip not in gone] for k, v in table.items()}
            self.tables[name] = {k: v for k, v in self.tables[name].items() if v}
            self.history.append((len(self.h.runtime.calls), name, self.tables[name]))

    def set_views(self, views: Mapping[str, list[str]]) -> None:
        pass

    def networks(self) -> list[str]:
        return sorted(self.tables)

    def remove_network(self, name: str) -> None:
        self.tables.pop(name, None)


def started(tmp_path: Path) -> tuple[Harness, RecordingDns]:
    h = build(tmp_path)
    dns = RecordingDns(h)
    h.engine.publisher.dns = dns  # type: ignore[assignment]
    return h, dns


def test_a_name_resolves_as_soon_as_its_container_runs_before_the_next_wave(tmp_path: Path) -> None:
    h, dns = started(tmp_path)
    assert h.engine.ops.up(h.project(CHAIN), UpOptions())["errors"] == []
    web_created = h.runtime.calls.index(("create", "demo-web-1"))
    first_db = next(calls for calls, _, table in dns.history if "db" in table)
    assert first_db <= web_created  # db resolved before the wave that depends on it began
    db_ip = h.network.addresses[(h.runtime.by_name("demo-db-1").id, "demo_default")]
    assert dns.tables["demo_default"]["db"] == [db_ip]
    assert len(dns.tables["demo_default"]["web"]) == 2 and dns.tables["demo_default"]["www"] == \
        dns.tables["demo_default"]["web"]


def test_a_stopped_container_leaves_dns_before_its_stop(tmp_path: Path) -> None:
    h, dns = started(tmp_path)
    h.engine.ops.up(h.project(CHAIN), UpOptions())
    web1 = h.runtime.by_name("demo-web-1")
    ip = h.network.addresses[(web1.id, "demo_default")]
    h.engine.ops.stop_services("demo", ["web"], None)
    stop_at = h.runtime.calls.index(("stop", "demo-web-1"))
    gone_at = next(calls for calls, _, table in dns.history if ip not in table.get("web", [ip]))
    assert gone_at <= stop_at and "web" not in dns.tables["demo_default"]
    assert "db" in dns.tables["demo_default"]


def test_what_the_published_ports_leave_out_dns_leaves_out(tmp_path: Path) -> None:
    h, dns = started(tmp_path)
    h.engine.ops.up(h.project(CHAIN), UpOptions())
    web = sorted(h.runtime.by_name(f"demo-web-{n}").id for n in (1, 2))
    h.engine.publisher.exclude_with(lambda project: {web[0]} if project == "demo" else set())
    h.engine.publisher.sync_dns()
    assert dns.tables["demo_default"]["web"] == [h.network.addresses[(web[1], "demo_default")]]


def test_a_replica_being_created_is_hidden_by_its_name_before_it_has_an_id(tmp_path: Path) -> None:
    h, _ = started(tmp_path)
    h.engine.ops.up(h.project(CHAIN), UpOptions())
    seen = [Labelled.of(c) for c in h.runtime.containers()]
    addresses = {c.id: {net: ip for (cid, net), ip in h.network.addresses.items() if cid == c.id} for c in seen}
    tables = dns_tables(seen, h.engine.loader.load, lambda cid: addresses.get(cid, {}), {"demo-web-2"})
    web1 = h.runtime.by_name("demo-web-1").id
    assert tables["demo_default"]["web"] == [addresses[web1]["demo_default"]]


def test_starts_add_their_names_and_end_where_a_full_rebuild_would(tmp_path: Path) -> None:
    """A start adds its container's names to the tables instead of rebuilding them over every
    container; after an `up` the tables are what a rebuild from scratch makes."""
    h, dns = started(tmp_path)
    assert h.engine.ops.up(h.project(CHAIN), UpOptions())["errors"] == []
    built = {name: dict(table) for name, table in dns.tables.items()}
    h.engine.publisher.sync_dns()
    assert dns.tables == built and len(built["demo_default"]["web"]) == 2


def test_a_start_drops_the_addresses_of_containers_that_no_longer_run(tmp_path: Path) -> None:
    """Between passes, the next start's update drops a container that ended (a crash), as the
    rebuild each start made did."""
    h, dns = started(tmp_path)
    h.engine.ops.up(h.project(CHAIN), UpOptions())
    web1, db = h.runtime.by_name("demo-web-1"), h.runtime.by_name("demo-db-1")
    ip = h.network.addresses[(web1.id, "demo_default")]
    assert ip in dns.tables["demo_default"]["web"]
    h.runtime.exit(web1.id, 1)
    h.engine.relist()
    h.engine.publisher.started(db.id)
    assert ip not in dns.tables["demo_default"]["web"] and "demo-web-1" not in dns.tables["demo_default"]
    assert dns.tables["demo_default"]["db"] == [h.network.addresses[(db.id, "demo_default")]]
