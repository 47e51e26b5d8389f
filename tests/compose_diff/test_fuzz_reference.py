"""Property-based: generated Compose projects, through pyorch and through Compose v2.40.3.

Both must accept or both refuse each project; when both accept, `config --format json` must be
the same text. The generator writes what real files hold, short and long syntaxes, scalars of
every YAML type where Compose wants strings, interpolation with set, empty and unset variables,
`.env` files, override files, and mistakes (unknown keys, wrong types, `null`, bad ports and
sizes). It leaves out what pyorch refuses on purpose (docs/compose-compatibility.md: `restart`
and `pull_policy` outside their lists, `network_mode: host` with ports, malformed addresses,
malformed logging options).

Seeded and bounded (`derandomize`, a fixed number of examples) so CI time stays flat.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.spec import ComposeError
from tests.compose_diff import harness, reference

# CI runs a fixed, derandomized set; COMPOSE_FUZZ_EXAMPLES=N COMPOSE_FUZZ_RANDOM=1 explores further.
EXAMPLES = int(os.environ.get("COMPOSE_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="COMPOSE_FUZZ_RANDOM" not in os.environ,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ENVIRONMENT = {"TAG": "1.2", "EMPTY": "", "PORT": "8080", "NAME": "shop", "FLAG": "true", "COUNT": "3"}

# --- scalars ---------------------------------------------------------------------------------------

texts = st.sampled_from([
    "web", "a b", "value with spaces", "", "yes", "no", "on", "1.50", "0x1F", "017", "1e3", "8080:80",
    "${TAG}", "${UNSET:-fallback}", "${EMPTY:-x}", "${EMPTY-y}", "${TAG:+set}", "$$escaped", "${NAME}-${TAG}",
    "http://example.com/?a=1&b=<2>", "é✓", "multi\nline", "  padded  ", "#hash", "key: value", "*", "~",
])
numbers = st.one_of(st.integers(-5, 70000), st.sampled_from([0.5, 1.0, 1.5, 12345678.0, 1e-06, 3.0]))
scalars = st.one_of(texts, numbers, st.booleans(), st.none())


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


# --- service attributes ----------------------------------------------------------------------------

ports = st.lists(st.one_of(
    st.sampled_from(["80", "8080:80", "127.0.0.1:8443:443", "127.0.0.1::9000", "[::1]:53:53/udp", "5000-5001:5000-5001",
                     "6000-6002:6000", "9-11:9-11", "${PORT}:80", "80/UDP", "80:http", "70000", "1:2:3:4", "0"]),
    st.integers(1, 65535),
    st.fixed_dictionaries({"target": st.integers(1, 65535)},
                          optional={"published": st.one_of(st.integers(1, 65535),
                                                           st.sampled_from(["8000", "8000-8005"])),
                                    "host_ip": st.sampled_from(["127.0.0.1", "0.0.0.0"]),
                                    "protocol": st.sampled_from(["tcp", "udp"]),
                                    "mode": st.sampled_from(["host", "ingress"]), "name": st.just("web")}),
), max_size=4)
volumes = st.lists(st.one_of(
    st.sampled_from(["data:/data", "data:/data:ro", "./src:/app", "./src:/app:cached", "/host:/host:ro,z",
                     "/anon", "~/cache:/cache", "data:/data:nocopy", "c:/x", "./a:/b/../c/", "data::/x"]),
    st.fixed_dictionaries({"type": st.sampled_from(["bind", "volume", "tmpfs"]),
                           "target": st.sampled_from(["/t", "/u/"])},
                          optional={"source": st.sampled_from(["./src", "data"]), "read_only": st.booleans(),
                                    "tmpfs": st.fixed_dictionaries({"size": st.sampled_from(["64m", 1024, "1.5g"])})}),
), max_size=3)
environment = st.one_of(
    st.dictionaries(st.sampled_from(["A", "B", "TAG", "PATH_X", "lower", "A9", "A10", "_U"]), scalars, max_size=5),
    st.lists(st.sampled_from(["A=1", "B", "TAG", "C=${TAG}", "D=", "E=a=b", "F=${UNSET}", 5, True]), max_size=4),
)
labels = st.one_of(
    st.dictionaries(st.sampled_from(["com.example.a", "b", "traefik.enable", "x.y"]), scalars, max_size=3),
    st.lists(st.sampled_from(["a=1", "b", "c=x=y", "traefik.http.routers.r.rule=Host(`x`)"]), max_size=3),
)
durations = st.sampled_from(["10s", "1m30s", "500ms", "1h", "0s", "1.5s", "2us", 10, "ten", "${EMPTY:-5s}"])
healthcheck = st.fixed_dictionaries({}, optional={
    "test": st.one_of(st.sampled_from(["curl -f http://localhost", ["CMD", "true"], ["CMD-SHELL", "x"], ["NONE"],
                                       ["BAD", "x"]]), st.none()),
    "interval": durations, "timeout": durations, "start_period": durations, "start_interval": durations,
    "retries": st.one_of(st.integers(0, 5), st.just("3")), "disable": st.booleans(),
})
sizes = st.sampled_from(["512m", "1g", "1GB", "100k", 1073741824, "1.5g", "2 g", "-1", "big"])
deploy = st.fixed_dictionaries({}, optional={
    "replicas": st.integers(0, 3),
    "resources": st.fixed_dictionaries({}, optional={
        "limits": st.fixed_dictionaries({}, optional={"cpus": st.sampled_from(["0.5", 1, "2", 0.25]), "memory": sizes,
                                                      "pids": st.integers(1, 100)}),
        "reservations": st.fixed_dictionaries({}, optional={"memory": sizes}),
    }),
    "restart_policy": st.fixed_dictionaries({}, optional={"condition": st.sampled_from(["on-failure", "any", "none"]),
                                                          "delay": durations, "max_attempts": st.integers(0, 5)}),
    "labels": labels,
})
depends_on = st.one_of(
    st.lists(st.sampled_from(["db", "cache", "ghost"]), max_size=2, unique=True),
    st.dictionaries(st.sampled_from(["db", "cache"]), st.fixed_dictionaries(
        {}, optional={"condition": st.sampled_from(["service_started", "service_healthy", "service_ready"]),
                      "restart": st.booleans(), "required": st.booleans()}), max_size=2),
)
command = st.one_of(st.sampled_from(["echo hello world", "sh -c 'sleep 1 && echo \"done\"'", "", "unclosed 'quote"]),
                    st.lists(st.one_of(texts, numbers), max_size=3), st.none())

service_body = st.fixed_dictionaries({"image": st.sampled_from(["nginx:${TAG}", "busybox", "redis:7", 5])}, optional={
    "ports": ports, "volumes": volumes, "environment": environment, "labels": labels,
    "healthcheck": healthcheck, "deploy": deploy, "depends_on": depends_on, "command": command,
    "entrypoint": command, "restart": st.sampled_from(["no", "always", "unless-stopped", "on-failure:3"]),
    "profiles": st.lists(st.sampled_from(["debug", "ops"]), max_size=2, unique=True),
    "mem_limit": sizes, "shm_size": sizes, "cpus": st.sampled_from([0.5, "1.5", 2, "two"]),
    "user": st.one_of(st.sampled_from(["1000:1000", "app", "${NAME}"]), st.integers(0, 1000)),
    "hostname": st.one_of(texts, numbers), "stop_grace_period": durations,
    "ulimits": st.dictionaries(st.sampled_from(["nofile", "nproc"]), st.one_of(
        st.integers(1, 65535), st.fixed_dictionaries({"soft": st.integers(1, 100), "hard": st.integers(100, 200)}),
        st.fixed_dictionaries({"soft": st.integers(1, 100)})), max_size=2),
    "extra_hosts": st.one_of(st.lists(st.sampled_from(["a.local:10.0.0.1", "b=10.0.0.2", "bad"]), max_size=2),
                             st.dictionaries(st.sampled_from(["a.local", "b"]), st.just("10.0.0.3"), max_size=2)),
    "networks": st.one_of(st.lists(st.sampled_from(["front", "back", "missing"]), max_size=2, unique=True),
                          st.dictionaries(st.sampled_from(["front", "back"]), st.one_of(
                              st.none(), st.fixed_dictionaries({"aliases": st.lists(st.just("alias"), max_size=1)})),
                              max_size=2)),
    # Option values pyorch's own logging accepts (it refuses malformed sizes and counts, Compose does not).
    "logging": st.fixed_dictionaries({"driver": st.just("json-file")}, optional={
        "options": st.one_of(
            st.fixed_dictionaries({}, optional={"max-size": st.sampled_from(["10m", "1k"]),
                                                "max-file": st.one_of(st.just("3"), st.integers(1, 5))}),
            st.fixed_dictionaries({"compress": st.one_of(st.just("true"), st.booleans())}))}),
    "tmpfs": st.one_of(st.just("/run"), st.lists(st.sampled_from(["/tmp", "/run:size=64m"]), max_size=2)),
    "dns": st.one_of(st.just("8.8.8.8"), st.lists(st.sampled_from(["1.1.1.1", "9.9.9.9"]), max_size=2)),
    "init": st.one_of(st.booleans(), st.sampled_from(["true", "yes", "maybe"])),
    "x-meta": st.one_of(scalars, st.dictionaries(st.sampled_from(["a", "b"]), scalars, max_size=2)),
    "imagee": st.just("typo"),
})
services = st.dictionaries(st.sampled_from(["web", "db", "cache", "worker"]), service_body, min_size=1, max_size=3)
documents = st.fixed_dictionaries({"services": services}, optional={
    "name": st.sampled_from(["My_Project", "${NAME}", "fuzz-app"]),
    "networks": st.dictionaries(st.sampled_from(["front", "back"]), st.one_of(
        st.none(), st.fixed_dictionaries({}, optional={"driver": st.just("bridge"), "internal": st.booleans(),
                                                       "external": st.booleans(), "labels": labels})), max_size=2),
    "volumes": st.dictionaries(st.just("data"), st.one_of(st.none(), st.fixed_dictionaries(
        {}, optional={"external": st.booleans(), "driver": st.just("local")}))),
    "x-common": scalars,
})
dotenv = st.lists(st.sampled_from(["TAG=from-dotenv", "NAME=dotenv", "NEW=${TAG}-x", "export EXTRA=1",
                                   "QUOTED=\"a b # c\"", "SINGLE='${TAG}'", "BARE", "# comment", "PORT=9090"]),
                  max_size=4)
override = st.one_of(st.none(), st.fixed_dictionaries({"services": st.dictionaries(
    st.sampled_from(["web", "db"]), st.fixed_dictionaries({}, optional={
        "environment": environment, "ports": ports, "labels": labels, "command": command}), max_size=2)}))


def _write(directory: Path, document: dict[str, Any], env_lines: list[str], extra: dict[str, Any] | None) -> None:
    (directory / "compose.yaml").write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    if env_lines:
        (directory / ".env").write_text("\n".join(env_lines) + "\n")
    if extra is not None:
        (directory / "compose.override.yaml").write_text(yaml.safe_dump(extra, sort_keys=False))


@FUZZ
@given(documents, dotenv, override)
def test_pyorch_and_compose_agree(document: dict[str, Any], env_lines: list[str],
                                  extra: dict[str, Any] | None) -> None:
    reference.require()
    directory = Path(tempfile.mkdtemp(prefix="fuzz-", dir=tempfile.gettempdir()))
    try:
        _write(directory, document, env_lines, extra)
        env = {"PATH": "/usr/bin:/bin", "HOME": harness.HOME, "PWD": str(directory), **ENVIRONMENT}
        args = ["config", "--format", "json"]
        ours = harness.run_pyorch(args, directory, env)
        theirs = harness.run_compose(args, directory, env)
        assert "Traceback" not in ours.stderr, ours.stderr
        assert (ours.code == 0) == (theirs.code == 0), (
            f"pyorch {'accepts' if ours.code == 0 else 'refuses'} ({ours.stderr.strip()}), "
            f"Compose {'accepts' if theirs.code == 0 else 'refuses'} ({theirs.stderr.strip()})")
        if ours.code == 0:
            assert ours.stdout == theirs.stdout, harness.first_difference(
                harness.parse_output(ours.stdout, "json"), harness.parse_output(theirs.stdout, "json"))
        else:  # every refusal of a file says where: file:line:column
            message = " ".join(ours.stderr.split())
            assert re.search(r"error: \S+:\d+:\d+: ", message), message
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_refusals_carry_a_location() -> None:
    """What the loader refuses from a file says where, for every kind of refusal the fuzzer meets."""
    from orchestrator.spec import LoadOptions, load_project

    directory = Path(tempfile.mkdtemp(prefix="fuzz-", dir=tempfile.gettempdir()))
    try:
        for text in ["services:\n  web:\n    image: x\n    user: 1000\n", "services:\n  web:\n    ports: [80:http]\n",
                     "services:\n  web: {image: x, networks: [missing]}\n", "services:\n  web: {image: 'a\x00'}\n"]:
            (directory / "compose.yaml").write_text(text)
            try:
                load_project(LoadOptions(working_dir=directory, environ={}))
            except ComposeError as exc:
                assert exc.location is not None and exc.location.line is not None, str(exc)
            else:
                raise AssertionError(f"accepted: {text!r}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
