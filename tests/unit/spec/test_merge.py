"""Multi-file merge (`-f a -f b`), rule by rule from the specification's 13-merge.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.spec import ComposeError, Project
from tests.unit.spec.conftest import Load, Write


def _merged(write: Write, load: Load, base: str, override: str) -> Project:
    a = write("a.yaml", base)
    b = write("b.yaml", override)
    return load(files=[a, b])


def _web(write: Write, load: Load, base: str, override: str) -> dict[str, Any]:
    project = _merged(write, load, "services:\n  web:\n" + base, "services:\n  web:\n" + override)
    return project.services["web"].model_dump(exclude_none=True)


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.strip().splitlines())


@pytest.mark.parametrize(("base", "override", "key", "expected"), [
    # scalars: replaced
    ("image: a", "image: b", "image", "b"),
    ("image: a\nrestart: always", "restart: 'no'", "restart", "no"),
    # mappings: merged key by key
    ("image: a\nenvironment: {A: '1', B: '1'}", "environment: [B=2, C=3]", "environment",
     {"A": "1", "B": "2", "C": "3"}),
    ("image: a\nlabels: {a: '1'}", "labels: [b=2]", "labels", {"a": "1", "b": "2"}),
    ("image: a\nsysctls: {x: '1'}", "sysctls: {x: '2', y: '3'}", "sysctls", {"x": "2", "y": "3"}),
    ("image: a\nextra_hosts: ['a:1.1.1.1']", "extra_hosts: {b: 2.2.2.2}", "extra_hosts",
     {"a": "1.1.1.1", "b": "2.2.2.2"}),
    ("image: a\nulimits: {nofile: 10}", "ulimits: {nproc: {soft: 1, hard: 2}}", "ulimits",
     {"nofile": 10, "nproc": {"soft": 1, "hard": 2}}),
    ("image: a\ndeploy: {replicas: 2, resources: {limits: {memory: 1k}}}", "deploy: {resources: {limits: {cpus: 1}}}",
     "deploy", {"replicas": 2, "resources": {"limits": {"memory": 1024, "cpus": 1.0}}}),
    # commands: replaced, never appended
    ("image: a\ncommand: [a, b]", "command: c d", "command", ["c", "d"]),
    ("image: a\nentrypoint: [a]", "entrypoint: [b]", "entrypoint", ["b"]),
    ("image: a\nhealthcheck: {test: [CMD, a], retries: 5}", "healthcheck: {test: [CMD, b]}", "healthcheck",
     {"test": ["CMD", "b"], "retries": 5}),
    # sequences: appended (and made unique where the spec says so)
    ("image: a\ndns: [1.1.1.1]", "dns: [8.8.8.8, 1.1.1.1]", "dns", ["1.1.1.1", "8.8.8.8"]),
    ("image: a\ncap_add: [NET_ADMIN]", "cap_add: [SYS_TIME]", "cap_add", ["NET_ADMIN", "SYS_TIME"]),
    ("image: a\nexpose: ['80']", "expose: [81]", "expose", ["80", "81"]),
    # ports: unique by {ip, target, published, protocol}
    ("image: a\nports: ['8080:80', '53:53/udp']", "ports: ['8080:80', '9090:80']", "ports",
     [{"target": 80, "published": "8080", "protocol": "tcp", "mode": "ingress"},
      {"target": 53, "published": "53", "protocol": "udp", "mode": "ingress"},
      {"target": 80, "published": "9090", "protocol": "tcp", "mode": "ingress"}]),
    # volumes: unique by target, the later one wins
    ("image: a\nvolumes: ['/a:/data', '/b:/other']", "volumes: ['/c:/data:ro']", "volumes",
     [{"type": "bind", "source": "/c", "target": "/data", "read_only": True, "bind": {"create_host_path": True}},
      {"type": "bind", "source": "/b", "target": "/other", "bind": {"create_host_path": True}}]),
    # logging: options merged only when the driver stays the same
    ("image: a\nlogging: {driver: json-file, options: {max-size: 1m}}", "logging: {options: {max-file: '3'}}",
     "logging", {"driver": "json-file", "options": {"max-size": "1m", "max-file": "3"}}),
    ("image: a\nlogging: {driver: json-file, options: {max-size: 1m}}", "logging: {driver: syslog}",
     "logging", {"driver": "syslog"}),
    # depends_on: short and long forms merge as mappings
    ("image: a\ndepends_on: [db]", "depends_on: {cache: {condition: service_healthy}}", "depends_on",
     {"db": {"condition": "service_started", "required": True, "restart": False},
      "cache": {"condition": "service_healthy", "required": True, "restart": False}}),
])
def test_merge_rule(write: Write, load: Load, base: str, override: str, key: str, expected: Any) -> None:
    services = "  db: {image: x}\n  cache: {image: x, healthcheck: {test: 'true'}}\n"
    a = write("a.yaml", "services:\n  web:\n" + _indent(base) + services)
    b = write("b.yaml", "services:\n  web:\n" + _indent(override))
    web = load(files=[a, b]).services["web"].model_dump(exclude_none=True)
    assert web[key] == expected


def test_reset_removes_an_attribute(write: Write, load: Load) -> None:
    a = write("a.yaml", "services:\n  web:\n    image: a\n    ports: ['80:80']\n    environment: {A: '1', B: '2'}\n")
    b = write("b.yaml", "services:\n  web:\n    ports: !reset []\n    environment:\n      B: !reset\n")
    web = load(files=[a, b]).services["web"]
    assert web.ports is None
    assert web.environment == {"A": "1"}


def test_reset_removes_a_service(write: Write, load: Load) -> None:
    a = write("a.yaml", "services:\n  web: {image: a}\n  debug: {image: b}\n")
    b = write("b.yaml", "services:\n  debug: !reset\n")
    assert list(load(files=[a, b]).services) == ["web"]


def test_override_replaces_instead_of_merging(write: Write, load: Load) -> None:
    a = write("a.yaml", "services:\n  web:\n    image: a\n    ports: ['80:80']\n    environment: {A: '1'}\n")
    b = write("b.yaml", "services:\n  web:\n    ports: !override ['81:81']\n    environment: !override {B: '2'}\n")
    web = load(files=[a, b]).services["web"]
    assert [p.published for p in web.ports or []] == ["81"]
    assert web.environment == {"B": "2"}


def test_later_files_may_set_back_what_was_reset(write: Write, load: Load) -> None:
    a = write("a.yaml", "services:\n  web: {image: a, command: [x]}\n")
    b = write("b.yaml", "services:\n  web: {command: !reset null}\n")
    c = write("c.yaml", "services:\n  web: {command: [y]}\n")
    assert load(files=[a, b, c]).services["web"].command == ["y"]


def test_override_file_may_add_services_and_resources(write: Write, load: Load) -> None:
    project = _merged(write, load, "services: {web: {image: a}}\n",
                      "services: {db: {image: b, volumes: [data:/d]}}\nvolumes: {data: {}}\n")
    assert sorted(project.services) == ["db", "web"]
    assert list(project.volumes) == ["data"]


def test_interpolation_is_per_file_before_merge(write: Write, load: Load, tmp_path: object) -> None:
    project = _merged(write, load, "services: {web: {image: 'a:${TAG}'}}\n", "services: {web: {hostname: '$$x'}}\n")
    assert project.services["web"].hostname == "$x"


def test_relative_paths_resolve_against_the_first_files_directory(write: Write, load: Load) -> None:
    a = write("a.yaml", "services: {web: {image: a}}\n")
    b = write("sub/b.yaml", "services: {web: {volumes: ['./data:/data'], build: ./ctx}}\n")
    web = load(files=[a, b]).services["web"]
    assert web.volumes is not None and web.volumes[0].source == str(a.parent / "data")
    assert web.build is not None and web.build.context == str(a.parent / "ctx")


def test_multi_document_yaml_merges_like_several_files(write: Write, load: Load) -> None:
    write("compose.yaml", "services: {web: {image: a}}\n---\nservices: {web: {image: b}}\n")
    assert load().services["web"].image == "b"


def test_last_name_wins(write: Write, load: Load) -> None:
    project = _merged(write, load, "name: first\nservices: {web: {image: a}}\n", "name: second\n")
    assert project.name == "second"


def test_override_a_whole_service(write: Write, load: Load) -> None:
    a = write("a.yaml", "services:\n  web: {image: a, ports: ['80:80'], environment: {A: '1'}}\n")
    b = write("b.yaml", "services:\n  web: !override {image: b}\n")
    web = load(files=[a, b]).services["web"]
    assert web.image == "b" and web.ports is None and web.environment == {}


def test_errors_in_an_override_file_point_into_it(write: Write, load: Load) -> None:
    a = write("a.yaml", "services:\n  web: {image: a}\n")
    b = write("b.yaml", "services:\n  web:\n    restart: sometimes\n")
    with pytest.raises(ComposeError) as info:
        load(files=[a, b])
    assert info.value.location is not None
    assert (Path(info.value.location.file).name, info.value.location.line) == ("b.yaml", 3)
