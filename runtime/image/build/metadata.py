"""Instructions that only change the image config (pure): ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR,
STOPSIGNAL, CMD, ENTRYPOINT, HEALTHCHECK, SHELL, ONBUILD, and the ARG declarations.

Each function takes the stage's `StageConfig` and an instruction and returns the new one, or raises
`DockerfileError` with the instruction's line. Variables are substituted where Docker does it, with
the ENV of the stage before the instruction (so ``ENV A=1 B=$A`` sees the old ``A``), ARG values
underneath ENV.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import signal
from dataclasses import dataclass, field
from typing import Any

from runtime.image.build.parser import Dockerfile, Instruction, json_array
from runtime.image.build.words import WordError, expand, expand_words, split_raw
from runtime.image.config import ImageConfig

DEFAULT_SHELL = ("/bin/sh", "-c")
_PORT = re.compile(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", re.IGNORECASE)
_HEREDOC_ONLY = re.compile(r"<<-?(['\"]?)[A-Za-z_][A-Za-z0-9_]*\1")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
       "h": 3_600_000_000_000}


@dataclass(frozen=True)
class StageConfig:
    """What one stage knows besides its layers."""

    image: ImageConfig = field(default_factory=ImageConfig)
    shell: tuple[str, ...] = DEFAULT_SHELL
    args: dict[str, str] = field(default_factory=dict)   # ARGs declared in this stage that have a value
    declared: frozenset[str] = frozenset()                # every ARG name declared in this stage
    cmd_set: bool = False                                 # CMD was given in this stage (ENTRYPOINT keeps it)

    def env(self) -> dict[str, str]:
        """Variables for substitution: ARG values, overridden by ENV."""
        values = dict(self.args)
        for item in self.image.env:
            key, _, value = item.partition("=")
            values[key] = value
        return values


def _fail(df: Dockerfile, ins: Instruction, message: str) -> Exception:
    return df.error(ins.line, f"{ins.keyword}: {message}")


def words(df: Dockerfile, ins: Instruction, env: dict[str, str]) -> list[str]:
    try:
        return expand_words(ins.args, env, df.escape)
    except WordError as exc:
        raise _fail(df, ins, str(exc)) from None


def word(df: Dockerfile, ins: Instruction, env: dict[str, str]) -> str:
    found = words(df, ins, env)
    if len(found) != 1:
        raise _fail(df, ins, f"wants exactly one argument, got {len(found)}")
    return found[0]


def pairs(df: Dockerfile, ins: Instruction, env: dict[str, str]) -> list[tuple[str, str]]:
    """``key=value …`` (values expanded and unquoted), or the legacy ``ENV key value with spaces``."""
    try:
        raw = split_raw(ins.args, df.escape)
        if raw and "=" not in raw[0]:
            if ins.keyword not in ("ENV",) or len(raw) < 2:
                raise _fail(df, ins, f"{raw[0]!r} is not key=value")
            key, _, rest = ins.args.partition(raw[0])
            return [(raw[0], expand(rest.strip(), env, df.escape))]
        out = []
        for item in raw:
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise _fail(df, ins, f"{item!r} is not key=value")
            out.append((expand(key, env, df.escape), expand(value, env, df.escape)))
        return out
    except WordError as exc:
        raise _fail(df, ins, str(exc)) from None


def declare_args(df: Dockerfile, ins: Instruction, config: StageConfig, build_args: dict[str, str],
                 inherited: dict[str, str]) -> StageConfig:
    """``ARG name[=default] …``: a build argument wins over the default; a bare name inherits a global ARG."""
    args = dict(config.args)
    declared = set(config.declared)
    try:
        items = split_raw(ins.args, df.escape)
    except WordError as exc:
        raise _fail(df, ins, str(exc)) from None
    env = config.env()
    for item in items:
        name, eq, default = item.partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise _fail(df, ins, f"invalid argument name {name!r}")
        declared.add(name)
        if name in build_args:
            args[name] = build_args[name]
        elif eq:
            try:
                args[name] = expand(default, {**env, **args}, df.escape)
            except WordError as exc:
                raise _fail(df, ins, str(exc)) from None
        elif name in inherited:
            args[name] = inherited[name]
    return dataclasses.replace(config, args=args, declared=frozenset(declared))


def apply(df: Dockerfile, ins: Instruction, config: StageConfig) -> StageConfig:
    """ENV, LABEL, EXPOSE, VOLUME, USER, STOPSIGNAL, CMD, ENTRYPOINT, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER."""
    env = config.env()
    image = config.image
    match ins.keyword:
        case "ENV":
            current = {e.partition("=")[0]: e for e in image.env}
            for key, value in pairs(df, ins, env):
                current[key] = f"{key}={value}"
            image = dataclasses.replace(image, env=list(current.values()))
        case "LABEL":
            image = dataclasses.replace(image, labels={**image.labels, **dict(pairs(df, ins, env))})
        case "EXPOSE":
            ports = set(image.exposed_ports)
            for item in words(df, ins, env):
                ports |= _ports(df, ins, item)
            image = dataclasses.replace(image, exposed_ports=sorted(ports))
        case "VOLUME":
            volumes = ins.exec_form if ins.exec_form is not None else words(df, ins, env)
            if any(not v.strip() for v in volumes):
                raise _fail(df, ins, "a volume path may not be empty")
            image = dataclasses.replace(image, volumes=sorted({*image.volumes, *volumes}))
        case "USER":
            image = dataclasses.replace(image, user=word(df, ins, env))
        case "STOPSIGNAL":
            image = dataclasses.replace(image, stop_signal=_signal(df, ins, word(df, ins, env)))
        case "CMD":
            return dataclasses.replace(config, image=dataclasses.replace(image, cmd=command(ins, config.shell)),
                                       cmd_set=True)
        case "ENTRYPOINT":
            cmd = image.cmd if config.cmd_set else None  # Docker: ENTRYPOINT drops an inherited CMD
            image = dataclasses.replace(image, entrypoint=command(ins, config.shell), cmd=cmd)
        case "HEALTHCHECK":
            image = dataclasses.replace(image, healthcheck=healthcheck(df, ins, config.shell))
        case "SHELL":
            if not ins.exec_form:
                raise _fail(df, ins, "wants a non-empty JSON array")
            # Kept in the image config too: a build FROM this image starts with it (Docker's "Shell").
            return dataclasses.replace(config, shell=tuple(ins.exec_form),
                                       image=dataclasses.replace(image, shell=list(ins.exec_form)))
        case "ONBUILD":
            image = dataclasses.replace(image, on_build=[*image.on_build, ins.args])
        case "MAINTAINER":
            pass  # deprecated; Docker writes it to the "author" field, which pyorch's config does not keep
        case _:
            raise _fail(df, ins, "is not a metadata instruction")
    return dataclasses.replace(config, image=image)


def workdir(df: Dockerfile, ins: Instruction, config: StageConfig) -> str:
    path = word(df, ins, config.env())
    base = config.image.working_dir or "/"
    return posixpath.normpath(posixpath.join(base, path))


def command(ins: Instruction, shell: tuple[str, ...]) -> list[str]:
    """Exec form as written; shell form wrapped in the stage's SHELL.

    Heredocs follow the command as its shell sees them (``RUN python3 <<EOF`` feeds the body to
    python3's stdin); a RUN that is only one heredoc runs the body as the script (`script_heredoc`
    says when the body starts with ``#!`` and must run as its own executable).
    """
    if ins.exec_form is not None:
        return list(ins.exec_form)
    if ins.heredocs and _only_heredoc(ins):
        return [*shell, ins.heredocs[0].body]
    text = ins.args
    for doc in ins.heredocs:
        text += f"\n{doc.body}{doc.name}"
    return [*shell, text]


def script_heredoc(ins: Instruction) -> str | None:
    """The body of ``RUN <<EOF`` when it starts with a ``#!`` line: BuildKit runs such a script as a
    file (at ``/dev/pipes/<name>``), so its own interpreter runs it."""
    if ins.keyword == "RUN" and ins.exec_form is None and ins.heredocs and _only_heredoc(ins) \
            and ins.heredocs[0].body.startswith("#!"):
        return ins.heredocs[0].body
    return None


def _only_heredoc(ins: Instruction) -> bool:
    return len(ins.heredocs) == 1 and _HEREDOC_ONLY.fullmatch(ins.args.strip()) is not None


def _ports(df: Dockerfile, ins: Instruction, item: str) -> set[str]:
    match = _PORT.fullmatch(item)
    if not match:
        raise _fail(df, ins, f"invalid port {item!r} (want 80, 80/udp or 8000-8010/tcp)")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    protocol = (match.group(3) or "tcp").lower()
    if not 0 < first <= last < 65536:
        raise _fail(df, ins, f"invalid port {item!r}: ports are 1-65535")
    return {f"{p}/{protocol}" for p in range(first, last + 1)}


def _signal(df: Dockerfile, ins: Instruction, value: str) -> str:
    if value.isdigit():
        if not 0 < int(value) < 65:
            raise _fail(df, ins, f"invalid signal number {value}")
        return value
    name = value.upper() if value.upper().startswith("SIG") else "SIG" + value.upper()
    if name not in signal.Signals.__members__:
        raise _fail(df, ins, f"unknown signal {value!r}")
    return name


def healthcheck(df: Dockerfile, ins: Instruction, shell: tuple[str, ...]) -> dict[str, Any]:
    """``HEALTHCHECK NONE`` or ``HEALTHCHECK [--interval=… …] CMD …`` in the image config's form (ns)."""
    kind, _, rest = ins.args.partition(" ")
    if kind.upper() == "NONE":
        if rest.strip() or ins.flags:
            raise _fail(df, ins, "NONE takes no other arguments")
        return {"Test": ["NONE"]}
    if kind.upper() != "CMD" or not rest.strip():
        raise _fail(df, ins, "wants NONE or CMD <command>")
    rest = rest.strip()
    sub = Instruction("CMD", rest, ins.line, ins.text, exec_form=json_array(rest) if rest.startswith("[") else None)
    test = ["CMD", *sub.exec_form] if sub.exec_form is not None else ["CMD-SHELL", rest]
    out: dict[str, Any] = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        if flag in ins.flags:
            out[key] = _duration(df, ins, flag, ins.flags[flag])
    if "retries" in ins.flags:
        retries = ins.flags["retries"]
        if not retries.isdigit() or int(retries) < 1:
            raise _fail(df, ins, f"--retries must be a positive integer, not {retries!r}")
        out["Retries"] = int(retries)
    return out


def _duration(df: Dockerfile, ins: Instruction, flag: str, text: str) -> int:
    """Go durations (30s, 1m30s, 500ms) in nanoseconds, as image configs store them."""
    if not text or not re.fullmatch(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+", text):
        raise _fail(df, ins, f"--{flag}={text!r} is not a duration like 30s or 1m30s")
    return int(sum(float(n) * _NS[u] for n, u in _DURATION.findall(text)))
