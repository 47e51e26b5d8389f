"""Property-based: generated Compose projects, through pyorch and through Compose v2.40.3.

Both must accept or both refuse each project; when both accept, `config --format json` must be
the same text; when pyorch refuses, it says where (file:line:column). The generator writes what
real files hold, short and long syntaxes, scalars of every YAML type where Compose wants strings,
interpolation with set, empty and unset variables, `.env` files and override files; three
projects in ten then get one mistake (an unknown key, a number where Compose wants a string,
`null`, a bad port, size, duration or reference...). It leaves out what pyorch refuses on purpose
(docs/compose-compatibility.md: `restart` and `pull_policy` outside their lists, malformed
addresses, malformed logging options).

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
from hypothesis import HealthCheck, event, given, settings
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

# --- valid service attributes (mistakes come from MUTATIONS below) ---------------------------------

ports = st.lists(st.one_of(
    st.sampled_from(["80", "8080:80", "127.0.0.1:8443:443", "127.0.0.1::9000", "[::1]:53:53/udp", "5000-5001:5000-5001",
                     "6000-6002:6000", "9-11:9-11", "${PORT}:80", "80/UDP"]),
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
                     "/anon", "~/cache:/cache", "data:/data:nocopy", "c:/x", "./a:/b/../c/"]),
    st.fixed_dictionaries({"type": st.just("volume"), "target": st.sampled_from(["/t", "/u/"])},
                          optional={"source": st.just("data"), "read_only": st.booleans()}),
    st.fixed_dictionaries({"type": st.just("bind"), "source": st.sampled_from(["./src", "/abs"]),
                           "target": st.sampled_from(["/b", "/c/"])}, optional={"read_only": st.booleans()}),
    st.fixed_dictionaries({"type": st.just("tmpfs"), "target": st.just("/tmp")},
                          optional={"tmpfs": st.fixed_dictionaries({"size": st.sampled_from(["64m", 1024, "1.5g"])})}),
), max_size=3)
environment = st.one_of(
    st.dictionaries(st.sampled_from(["A", "B", "TAG", "PATH_X", "lower", "A9", "A10", "_U"]), scalars, max_size=5),
    st.lists(st.sampled_from(["A=1", "B", "TAG", "C=${TAG}", "D=", "E=a=b", "F=${UNSET}", "A=2"]), max_size=4),
)
labels = st.one_of(
    st.dictionaries(st.sampled_from(["com.example.a", "b", "traefik.enable", "x.y"]), scalars, max_size=3),
    st.lists(st.sampled_from(["a=1", "b", "c=x=y", "traefik.http.routers.r.rule=Host(`x`)", "a=2"]), max_size=3),
)
durations = st.sampled_from(["10s", "1m30s", "500ms", "1h", "0s", "1.5s", "2us", "${EMPTY:-5s}", "90s", "1h1m"])
healthcheck = st.fixed_dictionaries({}, optional={
    "test": st.sampled_from(["curl -f http://localhost", ["CMD", "true"], ["CMD-SHELL", "x"], ["NONE"]]),
    "interval": durations, "timeout": durations, "start_period": durations, "start_interval": durations,
    "retries": st.one_of(st.integers(0, 5), st.just("3")), "disable": st.booleans(),
})
sizes = st.sampled_from(["512m", "1g", "1GB", "100k", 1073741824, "1.5g", "2 g", "1024"])
deploy = st.fixed_dictionaries({}, optional={
    "replicas": st.integers(0, 3),
    "resources": st.fixed_dictionaries({}, optional={
        "limits": st.fixed_dictionaries({}, optional={"cpus": st.sampled_from(["0.5", 1, "2", 0.25]),
                                                      "pids": st.integers(1, 100)}),
        "reservations": st.fixed_dictionaries({}, optional={"cpus": st.just("0.1")}),
    }),
    "restart_policy": st.fixed_dictionaries({}, optional={"condition": st.sampled_from(["on-failure", "any", "none"]),
                                                          "delay": durations, "max_attempts": st.integers(0, 5)}),
    "labels": labels,
    "update_config": st.fixed_dictionaries({}, optional={"parallelism": st.integers(0, 2), "delay": durations,
                                                         "order": st.sampled_from(["start-first", "stop-first"])}),
})
command = st.one_of(st.sampled_from(["echo hello world", "sh -c 'sleep 1 && echo \"done\"'", ""]),
                    st.lists(texts, max_size=3), st.none())
service_extras = {
    "ports": ports, "volumes": volumes, "environment": environment, "labels": labels,
    "healthcheck": healthcheck, "deploy": deploy, "command": command, "entrypoint": command,
    "restart": st.sampled_from(["no", "always", "unless-stopped", "on-failure:3"]),
    "mem_limit": sizes, "shm_size": sizes, "cpus": st.sampled_from([0.5, "1.5", 2]),
    "user": st.sampled_from(["1000:1000", "app", "${NAME}"]), "hostname": texts, "stop_grace_period": durations,
    "ulimits": st.dictionaries(st.sampled_from(["nofile", "nproc"]), st.one_of(
        st.integers(1, 65535), st.fixed_dictionaries({"soft": st.integers(1, 100), "hard": st.integers(100, 200)})),
        max_size=2),
    "extra_hosts": st.one_of(st.lists(st.sampled_from(["a.local:10.0.0.1", "b=10.0.0.2"]), max_size=2, unique=True),
                             st.dictionaries(st.sampled_from(["a.local", "b"]), st.just("10.0.0.3"), max_size=2)),
    # Option values pyorch's own logging accepts (it refuses malformed sizes and counts, Compose does not).
    "logging": st.fixed_dictionaries({"driver": st.just("json-file")}, optional={
        "options": st.fixed_dictionaries({}, optional={"max-size": st.sampled_from(["10m", "1k"]),
                                                       "max-file": st.one_of(st.just("3"), st.integers(1, 5)),
                                                       "compress": st.just("true")})}),
    "tmpfs": st.one_of(st.just("/run"), st.lists(st.sampled_from(["/tmp", "/run:size=64m"]), max_size=2)),
    "dns": st.one_of(st.just("8.8.8.8"), st.lists(st.sampled_from(["1.1.1.1", "9.9.9.9"]), max_size=2)),
    "init": st.one_of(st.booleans(), st.sampled_from(["true", "yes"])),
    "security_opt": st.lists(st.sampled_from(["no-new-privileges:true", "seccomp=unconfined"]), max_size=2,
                             unique=True),
    "cap_add": st.lists(st.sampled_from(["NET_ADMIN", "SYS_TIME", "NET_ADMIN"]), max_size=3),
    "expose": st.lists(st.one_of(st.integers(1, 9000), st.sampled_from(["3000", "4000-4002/udp"])), max_size=2),
    "working_dir": st.sampled_from(["/app", "/srv/${NAME}"]), "stop_signal": st.sampled_from(["SIGINT", "SIGQUIT"]),
    "x-meta": st.one_of(scalars, st.dictionaries(st.sampled_from(["a", "b"]), scalars, max_size=2)),
}
SERVICES = ["web", "db", "cache", "worker"]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A project whose references hold (dependencies, networks and volumes that exist)."""
    names = draw(st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True))
    networks = draw(st.lists(st.sampled_from(["front", "back"]), max_size=2, unique=True))
    services: dict[str, Any] = {}
    for name in names:
        body: dict[str, Any] = {"image": draw(st.sampled_from(["nginx:${TAG}", "busybox", "redis:7"]))}
        for key in draw(st.lists(st.sampled_from(sorted(service_extras)), max_size=6, unique=True)):
            body[key] = draw(service_extras[key])
        others = [n for n in names if n != name]
        if others and draw(st.booleans()):
            deps = draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True))
            body["depends_on"] = deps if draw(st.booleans()) else {
                d: draw(st.fixed_dictionaries({"condition": st.sampled_from(["service_started", "service_healthy"])},
                                              optional={"restart": st.booleans(), "required": st.booleans()}))
                for d in deps}
        if networks and draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(networks), min_size=1, unique=True))
            body["networks"] = chosen if draw(st.booleans()) else {
                n: draw(st.one_of(st.none(), st.fixed_dictionaries({"aliases": st.just([f"{name}-{n}"])})))
                for n in chosen}
        if draw(st.integers(0, 9)) == 0:
            body["profiles"] = ["debug"]
        services[name] = body
    document: dict[str, Any] = {"services": services}
    if networks:
        document["networks"] = {n: draw(st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"driver": st.just("bridge"), "internal": st.booleans(), "labels": labels})))
            for n in networks}
    if any("data:" in str(v) or "'data'" in str(v) for v in services.values()):
        document["volumes"] = {"data": draw(st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"driver": st.just("local"), "labels": labels}), st.just({"external": True})))}
    for key, values in (("name", st.sampled_from(["My_Project", "${NAME}", "fuzz-app"])), ("x-common", scalars)):
        if draw(st.booleans()):
            document[key] = draw(values)
    return document


# --- mistakes: each one alone makes Compose refuse the project -------------------------------------

MUTATIONS: list[tuple[str, Any]] = [
    ("user", 1000), ("hostname", 5), ("image", 5), ("ports", ["80:http"]), ("ports", ["70000"]),
    ("ports", ["1:2:3:4"]), ("ports", ["0"]), ("volumes", ["data::/x"]),
    ("volumes", [{"type": "bind", "target": "/t"}]),
    ("environment", ["A=1", 5]), ("environment", None), ("labels", {"d": "__TIMESTAMP__"}),
    ("healthcheck", {"test": ["BAD", "x"]}), ("healthcheck", {"interval": 10}), ("healthcheck", {"interval": "ten"}),
    ("mem_limit", "big"), ("mem_limit", "-1"), ("cpus", "two"), ("init", "maybe"), ("imagee", "typo"),
    ("networks", ["missing"]), ("depends_on", ["ghost"]), ("depends_on", {"db": {"condition": "service_ready"}}),
    ("depends_on", {"db": {}}), ("logging", {"driver": "json-file", "options": {"compress": True}}),
    ("ulimits", {"nofile": {"soft": 1}}), ("security_opt", ["a", "a"]), ("extra_hosts", ["bad"]),
    ("command", ["echo", 5]), ("command", "unclosed 'quote"), ("read_only", 1), ("stop_signal", 9),
    ("deploy", {"replicas": 2, "resources": {"limits": {"memory": "1g"}}}), ("scale", -1),
    ("container_name", "fixed"), ("tmpfs", ["/tmp", "/tmp:size=1m"]), ("expose", [True]),
]


@st.composite
def projects(draw: st.DrawFn) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
    """A project, the mistake put in it (if any), and an override file for some of its services."""
    document = draw(documents())
    extra = None
    if draw(st.booleans()):
        extra = {"services": {name: draw(st.fixed_dictionaries({}, optional={
            "environment": environment, "ports": ports, "labels": labels, "command": command}))
            for name in draw(st.lists(st.sampled_from(sorted(document["services"])), min_size=1, unique=True))}}
    mutation = None
    if draw(st.integers(0, 9)) >= 7:  # about three projects in ten carry one mistake
        key, value = draw(st.sampled_from(MUTATIONS))
        service = draw(st.sampled_from(sorted(document["services"])))
        document["services"][service][key] = value
        if key == "container_name":
            document["services"][service]["scale"] = 2
        if extra is not None and service in extra["services"]:
            # pyorch checks each file's values where they are written; Compose checks some (commands,
            # durations, sizes) only once the files are merged, so a mistake replaced by the override
            # passes there (docs/compose-compatibility.md). The override leaves the mistake alone.
            extra["services"][service].pop(key, None)
        mutation = key
    return document, mutation, extra


dotenv = st.lists(st.sampled_from(["TAG=from-dotenv", "NAME=dotenv", "NEW=${TAG}-x", "export EXTRA=1",
                                   "QUOTED=\"a b # c\"", "SINGLE='${TAG}'", "BARE", "# comment", "PORT=9090"]),
                  max_size=4)
def _write(directory: Path, document: dict[str, Any], env_lines: list[str], extra: dict[str, Any] | None) -> None:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    (directory / "compose.yaml").write_text(text.replace("'__TIMESTAMP__'", "2024-01-31"))
    if env_lines:
        (directory / ".env").write_text("\n".join(env_lines) + "\n")
    if extra is not None:
        (directory / "compose.override.yaml").write_text(yaml.safe_dump(extra, sort_keys=False))


@FUZZ
@given(projects(), dotenv)
def test_pyorch_and_compose_agree(project: tuple[dict[str, Any], str | None, dict[str, Any] | None],
                                  env_lines: list[str]) -> None:
    reference.require()
    document, mutation, extra = project
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
        event("both accept" if ours.code == 0 else "both refuse" + (" (a mutation)" if mutation else ""))
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
