"""Short syntaxes → long form, units, and YAML 1.2 scalars."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.spec.forms import short_port, short_volume
from orchestrator.spec.model import Service
from orchestrator.spec.units import parse_bytes, parse_duration
from orchestrator.spec.yamlsource import parse_documents


def _port(target: int, published: str | None = None, host_ip: str | None = None,
          protocol: str = "tcp") -> dict[str, Any]:
    entry: dict[str, Any] = {"mode": "ingress", "target": target, "protocol": protocol}
    if published is not None:
        entry["published"] = published
    if host_ip is not None:
        entry["host_ip"] = host_ip
    return entry


@pytest.mark.parametrize(("text", "expected"), [
    ("80", [_port(80)]),
    ("80/udp", [_port(80, protocol="udp")]),
    ("8080:80", [_port(80, "8080")]),
    ("127.0.0.1:8080:80", [_port(80, "8080", "127.0.0.1")]),
    ("127.0.0.1::80", [_port(80, None, "127.0.0.1")]),
    ("[::1]:8080:80/udp", [_port(80, "8080", "::1", "udp")]),
    ("8000-8010:80", [_port(80, "8000-8010")]),
    ("3000-3001", [_port(3000), _port(3001)]),
    ("9090-9091:8080-8081", [_port(8080, "9090"), _port(8081, "9091")]),
    ("0.0.0.0:5000-5001:5000-5001/tcp", [_port(5000, "5000", "0.0.0.0"), _port(5001, "5001", "0.0.0.0")]),
    ("80/UDP", [_port(80, protocol="udp")]),
    # Docker sorts the entries of a range by "PORT/PROTO" as text.
    ("8-10:8-10", [_port(10, "10"), _port(8, "8"), _port(9, "9")]),
])
def test_short_ports(text: str, expected: list[dict[str, Any]]) -> None:
    assert short_port(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "80/icmp", "1:2:3:4", "9090-9092:8080-8081", "90-80", "70000",
                                  "[::1", "5000:5000-5001", "65536"])
def test_invalid_short_ports(text: str) -> None:
    with pytest.raises(ValueError):
        short_port(text)


def test_long_port_published_is_checked() -> None:
    with pytest.raises(ValidationError):
        Service.model_validate({"ports": [{"target": 80, "published": "eighty"}]})
    port = Service.model_validate({"ports": [{"target": 80, "published": 8080}]}).ports
    assert port is not None and port[0].published == "8080" and port[0].protocol == "tcp"


@pytest.mark.parametrize(("text", "expected"), [
    ("/data", {"type": "volume", "target": "/data", "volume": {}}),
    ("/a", {"type": "volume", "target": "/a"}),   # two characters or fewer: a target, nothing else
    ("data:/data", {"type": "volume", "source": "data", "target": "/data", "volume": {}}),
    ("data:/data:ro", {"type": "volume", "source": "data", "target": "/data", "read_only": True, "volume": {}}),
    ("data:/data:nocopy", {"type": "volume", "source": "data", "target": "/data", "volume": {"nocopy": True}}),
    ("./src:/app", {"type": "bind", "source": "./src", "target": "/app", "bind": {"create_host_path": True}}),
    ("./src:/app:cached", {"type": "bind", "source": "./src", "target": "/app", "bind": {"create_host_path": True}}),
    ("/host:/app:rw,z", {"type": "bind", "source": "/host", "target": "/app", "read_only": False,
                         "bind": {"create_host_path": True, "selinux": "z"}}),
    ("~/x:/x:rshared", {"type": "bind", "source": "~/x", "target": "/x",
                        "bind": {"create_host_path": True, "propagation": "rshared"}}),
    # As in Compose: a second field is the target (so this mounts /data on `ro`), and a single
    # letter before `:` is a Windows drive.
    ("/data:ro", {"type": "bind", "source": "/data", "target": "ro", "bind": {"create_host_path": True}}),
    ("c:/x", {"type": "volume", "target": "c:/x", "volume": {}}),
    ("a:/b:bogus", {"type": "bind", "source": "a:/b", "target": "bogus", "bind": {"create_host_path": True}}),
    ("${SRC:-./x}:/x", {"type": "volume", "source": "${SRC:-./x}", "target": "/x", "volume": {}}),
])
def test_short_volumes(text: str, expected: dict[str, Any]) -> None:
    assert short_volume(text) == expected


@pytest.mark.parametrize("text", ["", "ab:cd:ef:gh", "data:", "data::/y"])
def test_invalid_short_volumes(text: str) -> None:
    with pytest.raises(ValueError):
        short_volume(text)


@pytest.mark.parametrize(("value", "seconds"), [
    ("10s", 10.0), ("1m30s", 90.0), ("1h", 3600.0), ("500ms", 0.5), ("1.5s", 1.5), ("2us", 2e-6),
    ("100ns", 1e-7), ("1h2m3s", 3723.0), (5, 5.0), (2.5, 2.5), ("0", 0.0), ("30", 30.0),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "ten", "10x", "s", "1m-1s", -1, True, None, [1]])
def test_invalid_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(("value", "size"), [
    (1024, 1024), ("1024", 1024), ("1b", 1), ("1k", 1024), ("1kb", 1024), ("1KiB", 1024), ("512m", 512 << 20),
    ("1g", 1 << 30), ("1G", 1 << 30), ("1.5g", int(1.5 * (1 << 30))), ("2gb", 2 << 30),
])
def test_byte_sizes(value: object, size: int) -> None:
    assert parse_bytes(value) == size


@pytest.mark.parametrize("value", ["lots", "1q", "", "-1", -5, True, "1 0m"])
def test_invalid_byte_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_bytes(value)


@pytest.mark.parametrize(("text", "value"), [
    ("no", "no"), ("yes", "yes"), ("on", "on"), ("off", "off"), ("true", True), ("False", False),
    ("8080:80", "8080:80"), ("12", 12), ("0x1f", 31), ("0o17", 15), ("0440", 288), ("089", 89),
    ("1.5", 1.5), ("~", None), ("", None),
    ("2001-01-01", "2001-01-01"), ("'quoted'", "quoted"), ("1e3", 1000.0),
])
def test_yaml_1_2_scalars(text: str, value: object) -> None:
    data, _ = parse_documents(f"k: {text}\n", "f.yaml")[0]
    assert data == {"k": value}


def test_yaml_merge_keys_and_anchors() -> None:
    text = """
x-common: &common
  image: base
  environment: {A: "1"}
x-more: &more
  restart: always
  image: ignored
services:
  web:
    <<: [*common, *more]
    image: mine
  db:
    <<: *common
"""
    data, source = parse_documents(text, "f.yaml")[0]
    assert data["services"]["web"] == {"image": "mine", "environment": {"A": "1"}, "restart": "always"}
    assert data["services"]["db"] == {"image": "base", "environment": {"A": "1"}}
    assert source.locate(("services", "web", "image")).line == 11


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("command", "echo 'a b' c", ["echo", "a b", "c"]),
    ("command", ["a", 1], ["a", "1"]),
    ("entrypoint", "/bin/sh -c", ["/bin/sh", "-c"]),
    ("environment", ["A=1", "B=", "C"], {"A": "1", "B": "", "C": None}),
    ("labels", ["a=1", "b"], {"a": "1", "b": ""}),
    ("extra_hosts", ["a:1.2.3.4", "b=::1", "c:::1"], {"a": "1.2.3.4", "b": "::1", "c": "::1"}),
    ("dns", "8.8.8.8", ["8.8.8.8"]),
    ("tmpfs", "/run", ["/run"]),
    ("networks", ["front", "back"], {"front": None, "back": None}),
    ("ulimits", {"nofile": 1024}, {"nofile": 1024}),  # one number stays one number (soft = hard)
    ("depends_on", ["db"], {"db": {"condition": "service_started", "required": True, "restart": False}}),
    ("healthcheck", {"test": "curl x"}, {"test": ["CMD-SHELL", "curl x"]}),
    ("env_file", ".env", [{"path": ".env", "required": True}]),
    ("build", ".", {"context": "."}),
    ("restart", "on-failure:3", "on-failure:3"),
    ("restart", False, "no"),
    ("secrets", ["s"], [{"source": "s"}]),
    ("secrets", [{"source": "s", "mode": "0440"}], [{"source": "s", "mode": 0o440}]),
    ("memswap_limit", -1, -1),
    ("cpu_rt_runtime", 10000, 10000),
    ("cpu_rt_runtime", 1.5, 1),  # a float where Compose's schema takes a number: truncated as Go does
    ("cpu_shares", -2.7, -2),
    ("devices", ["/dev/fuse"], [{"source": "/dev/fuse", "target": "/dev/fuse", "permissions": "rwm"}]),
    ("user", 1000, "1000"),
    ("group_add", [1000, "audio"], ["1000", "audio"]),
    ("expose", [80, "81/udp"], ["80", "81/udp"]),
])
def test_service_forms(field: str, value: object, expected: object) -> None:
    service = Service.model_validate({field: value})
    dumped = service.model_dump(exclude_none=True, exclude_defaults=False)[field]
    assert dumped == expected


@pytest.mark.parametrize(("field", "value"), [
    ("restart", "sometimes"), ("pull_policy", "often"), ("cgroup", "shared"), ("oom_score_adj", 5000),
    ("cpu_rt_runtime", "400ms"), ("cpu_shares", "1.5"), ("healthcheck", {"retries": -1}),  # refused by Compose too
    # (a healthcheck test's first word is checked on enabled services only, in consistency.py)
    ("deploy", {"replicas": -1}), ("deploy", {"update_config": {"order": "random"}}),
    ("depends_on", {"db": {"condition": "service_ready"}}), ("environment", "A=1"), ("ports", "80:80"),
])
def test_service_values_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Service.model_validate({field: value})
