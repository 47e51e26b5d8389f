"""What every API route accepts, checked before the route runs (issue 20: validate, then act).

One table, `ROUTES`, names each route the engine serves and the pydantic models of its body and
query. The server matches a request against it first: an unknown path is a 404, a known path
with another method a 405 with `Allow`, and a body or query that does not fit its model a 400
naming the field — all before anything happens. The routes then read only checked values (the
body as the model dumps it: fields the client sent, of the types the schema gives).

Bodies are strict (JSON types as documented: `"5"` is not a number); fields a route does not
know are left alone (`extra="allow"`), as Docker's API does, except where the route passes them
on as keyword arguments (`up`'s `options`). Queries arrive as text and are parsed (lax).
docs/openapi.yaml describes the same; tests/unit/engine/test_api_documented.py keeps the three
(this table, the routes served, the document) equal.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from runtime.errors import RuntimeFailure
from runtime.linux.signals import signal_number

MAX_BODY_BYTES = 8 * 1024 * 1024  # a Compose project with its environment is kilobytes; 413 beyond


class RequestRefused(Exception):
    """A request refused before any route ran: the HTTP status, the message, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


Flag = Literal["0", "1"]
Names = list[str]


# --- bodies ----------------------------------------------------------------------------------------------
class UpOptionsBody(BaseModel):
    """`up`'s options: passed on as keyword arguments, so an unknown one is refused here."""

    model_config = ConfigDict(strict=True, extra="forbid")
    force_recreate: bool = False
    no_recreate: bool = False
    remove_orphans: bool = False
    pull: Literal["always", "missing", "never"] | None = None
    services: Names | None = None
    no_deps: bool = False
    timeout: float | None = Field(default=None, ge=0)
    scale: dict[str, int] | None = None
    builds_by_caller: bool = False


class UpBody(Body):
    project: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    options: UpOptionsBody = Field(default_factory=UpOptionsBody)

    @model_validator(mode="after")
    def _one_input(self) -> UpBody:
        if (self.project is None) == (self.source is None):
            raise ValueError("give the project, or its Compose inputs as source (one of the two)")
        return self


class DownBody(Body):
    timeout: float | None = Field(default=None, ge=0)
    volumes: bool = False


class ServicesBody(Body):
    services: Names = []


class StartBody(ServicesBody):
    containers: Names = []


class StopBody(StartBody):
    timeout: float | None = Field(default=None, ge=0)


class RestartBody(StopBody):
    no_deps: bool = False


class KillBody(StartBody):
    signal: int | str = 9

    @field_validator("signal")
    @classmethod
    def _known(cls, value: int | str) -> int | str:
        try:
            number = signal_number(str(value))
        except RuntimeFailure as exc:
            raise ValueError(str(exc)) from None
        if not 0 < number < signal.NSIG:
            raise ValueError(f"unknown signal {value!r}")
        return value


class ExecBody(Body):
    service: str
    args: list[str] = Field(min_length=1)
    index: int = Field(default=1, ge=1)
    env: list[str] = []
    user: str | None = None
    workdir: str | None = None


class ImportBody(Body):
    source: str
    reference: str
    env: list[str] = []
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    working_dir: str = ""
    user: str = ""


class BootstrapBody(Body):
    images: list[Literal["busybox", "python", "debian"]] | None = None


class ScaleBody(Body):
    scale: dict[str, int]
    options: UpOptionsBody = Field(default_factory=UpOptionsBody)

    @field_validator("scale")
    @classmethod
    def _not_negative(cls, value: dict[str, int]) -> dict[str, int]:
        for service, count in value.items():
            if count < 0:
                raise ValueError(f"{service}: a replica count is 0 or more")
        return value


class RmBody(ServicesBody):
    stop: bool = False
    timeout: float | None = Field(default=None, ge=0)
    volumes: bool = False


class RunBody(Body):
    project: dict[str, Any]
    service: str
    command: list[str] = []
    entrypoint: list[str] | None = None
    env: list[str] = []
    user: str | None = None
    workdir: str | None = None
    name: str | None = None
    no_deps: bool = False


class SessionRunBody(RunBody):
    tty: bool = False
    stdin_open: bool = False
    size: list[int] | None = None


class ServiceBody(Body):
    service: str


class ReplicaBody(ServiceBody):
    index: int | None = Field(default=None, ge=1)


class SessionExecBody(ReplicaBody):
    args: list[str] = Field(min_length=1)
    env: list[str] = []
    user: str | None = None
    workdir: str | None = None
    tty: bool = False
    stdin: bool = False
    size: list[int] | None = None


class SessionAttachBody(ReplicaBody):
    stdin: bool = False


class CopyStatBody(ReplicaBody):
    path: str
    follow_link: bool = False


class CopyArchiveBody(CopyStatBody):
    arcname: str


class CopyExtractBody(ReplicaBody):
    path: str
    archive: bool = False


class ImageBuildBody(Body):
    context: str
    dockerfile: str | None = None
    args: dict[str, str] | None = None
    target: str | None = None
    labels: dict[str, str] | None = None
    tags: list[str] | None = None
    no_cache: bool = False


class ProjectBuildBody(Body):
    project: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    services: Names | None = None
    args: dict[str, str] | None = None
    no_cache: bool = False


class ReferenceBody(Body):
    reference: str


class PullBody(ReferenceBody):
    platform: str | None = None


class PushBody(ReferenceBody):
    target: str | None = None


class RemoveImageBody(ReferenceBody):
    force: bool = False


class AllBody(Body):
    all: bool = False


class SaveBody(Body):
    references: list[str] = Field(min_length=1)
    output: str
    format: Literal["tar", "oci-dir"] | None = None


class LoadBody(Body):
    source: str
    repository: str | None = None


class LoginBody(Body):
    registry: str
    username: str
    password: str


class LogoutBody(Body):
    registry: str


class VolumesRemoveBody(Body):
    names: Names = []
    force: bool = False


class VolumesPruneBody(AllBody):
    filters: list[str] = []


# --- queries -------------------------------------------------------------------------------------------
class PsQuery(Query):
    all: Flag = "1"
    service: Names = []


class LogsQuery(Query):
    service: Names = []
    follow: Flag = "0"
    tail: int = -1
    index: int | None = Field(default=None, ge=1)


class ServicesQuery(Query):
    service: Names = []


class RefQuery(Query):
    ref: Names = []


class PortQuery(Query):
    service: str
    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    index: int = Field(default=1, ge=1)


class EventsQuery(Query):
    project: str | None = None
    after: int = Field(default=0, ge=0)
    since: float | None = None
    until: float | None = None
    follow: Flag = "1"


class VolumesQuery(Query):
    filter: list[str] = []


# --- the table -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    path: str  # segments; `{name}` matches any one
    body: type[BaseModel] | None = None
    query: type[Query] | None = None

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


def _routes(*rows: tuple[str, str] | tuple[str, str, type[BaseModel] | None] |
            tuple[str, str, type[BaseModel] | None, type[Query] | None]) -> list[Route]:
    return [Route(*row) for row in rows]


P = "/v1/projects/{name}"
ROUTES = _routes(
    ("GET", "/v1/ping"), ("GET", "/v1/info"), ("GET", "/v1/projects"),
    ("POST", "/v1/projects/up", UpBody),
    ("POST", f"{P}/down", DownBody), ("POST", f"{P}/stop", StopBody), ("POST", f"{P}/start", StartBody),
    ("POST", f"{P}/pause", ServicesBody), ("POST", f"{P}/unpause", ServicesBody), ("POST", f"{P}/kill", KillBody),
    ("GET", f"{P}/stats"), ("GET", f"{P}/ps", None, PsQuery), ("GET", f"{P}/logs", None, LogsQuery),
    ("POST", f"{P}/exec", ExecBody), ("GET", f"{P}/top", None, ServicesQuery),
    ("GET", f"{P}/port", None, PortQuery), ("GET", "/v1/networks"),
    ("GET", f"{P}/rollouts"), ("POST", f"{P}/rollback", ServiceBody),
    ("POST", f"{P}/restart", RestartBody), ("GET", f"{P}/ready", None, ServicesQuery),
    ("POST", f"{P}/scale", ScaleBody), ("POST", f"{P}/rm", RmBody), ("GET", f"{P}/inspect", None, RefQuery),
    ("POST", f"{P}/run", RunBody), ("GET", f"{P}/oneoff/{{cid}}/attach"), ("POST", f"{P}/oneoff/{{cid}}/remove"),
    ("POST", f"{P}/sessions/exec", SessionExecBody), ("POST", f"{P}/sessions/attach", SessionAttachBody),
    ("POST", f"{P}/sessions/run", SessionRunBody),
    ("POST", f"{P}/copy/stat", CopyStatBody), ("POST", f"{P}/copy/archive", CopyArchiveBody),
    ("POST", f"{P}/copy/extract", CopyExtractBody),
    ("GET", "/v1/events", None, EventsQuery),
    ("GET", "/v1/images"), ("POST", "/v1/images/import", ImportBody), ("POST", "/v1/images/bootstrap", BootstrapBody),
    ("POST", "/v1/images/pull", PullBody), ("POST", "/v1/images/push", PushBody),
    ("POST", "/v1/images/remove", RemoveImageBody), ("GET", "/v1/images/inspect", None, RefQuery),
    ("POST", "/v1/images/prune", AllBody), ("POST", "/v1/images/save", SaveBody), ("POST", "/v1/images/load", LoadBody),
    ("POST", "/v1/images/build", ImageBuildBody), ("POST", "/v1/projects/build", ProjectBuildBody),
    ("POST", "/v1/builder/prune", Body),
    ("POST", "/v1/registry/login", LoginBody), ("POST", "/v1/registry/logout", LogoutBody),
    ("GET", "/v1/volumes", None, VolumesQuery), ("GET", "/v1/volumes/{name}"),
    ("POST", "/v1/volumes/remove", VolumesRemoveBody), ("POST", "/v1/volumes/prune", VolumesPruneBody),
    ("POST", "/v1/engine/shutdown"),
)


# Requests that take new work, which writes under the state root (containers, images, layers,
# revisions): refused up front while its filesystem is full. The others stay open: reads, and
# what frees space or stops things (down, stop, kill, rm, prune, image and volume removal).
NEW_WORK = frozenset({
    "/v1/projects/up", f"{P}/start", f"{P}/restart", f"{P}/scale", f"{P}/run", f"{P}/rollback", f"{P}/sessions/run",
    f"{P}/copy/extract", "/v1/images/import", "/v1/images/bootstrap", "/v1/images/pull", "/v1/images/load",
    "/v1/images/build", "/v1/projects/build", "/v1/registry/login",
})


def _matches(route: Route, parts: list[str]) -> int | None:
    """How many literal segments matched (more is a better match), None when it does not match."""
    segments = route.segments
    if len(segments) != len(parts):
        return None
    literal = 0
    for want, got in zip(segments, parts, strict=True):
        if want.startswith("{"):
            continue
        if want != got:
            return None
        literal += 1
    return literal


def route_for(method: str, parts: list[str]) -> Route:
    """The route a request names: 404 for no such path, 405 (with Allow) for another method."""
    candidates = [(score, r) for r in ROUTES if (score := _matches(r, parts)) is not None]
    if not candidates:
        raise RequestRefused(404, f"no route {method} /{'/'.join(parts)}")
    mine = [(score, r) for score, r in candidates if r.method == method]
    if not mine:
        allowed = ", ".join(sorted({r.method for _, r in candidates}))
        raise RequestRefused(405, f"{method} is not allowed on /{'/'.join(parts)} (allowed: {allowed})",
                             {"Allow": allowed})
    return max(mine, key=lambda item: item[0])[1]


def _problem(where: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"])
        if error["type"] == "json_invalid":
            problems.append(f"{where} is not valid JSON ({error['ctx'].get('error', error['msg'])})"
                            if "ctx" in error else f"{where} is not valid JSON")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}.{field}: {message}" if field else f"{where}: {message}")
    return "invalid request: " + "; ".join(problems)


def check_body(route: Route, raw: bytes) -> dict[str, Any]:
    """The body as the route's model reads it: the fields sent, checked; 400 naming what is wrong.
    The bytes are parsed once (an `up` body carries the whole project): by the model where the
    route has one (JSON's own parser and strictness), else by json.loads."""
    if not raw.strip():
        raw = b"{}"
    if route.body is None:
        try:
            decoded = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _not_json(str(exc)) from None
        if not isinstance(decoded, dict):
            raise _not_an_object(decoded)
        return decoded
    try:
        model = route.body.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise _not_json(str(first.get("ctx", {}).get("error", first["msg"]))) from None
        if first["type"] == "model_type" and not first["loc"]:
            raise _not_an_object(first["input"]) from None
        raise RequestRefused(400, _problem("body", exc)) from None
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_unset=True)
    return dumped


def _not_json(reason: str) -> RequestRefused:
    return RequestRefused(400, f"invalid request: the body is not JSON in UTF-8 ({reason})")


def _not_an_object(decoded: object) -> RequestRefused:
    return RequestRefused(400, f"invalid request: the body must be a JSON object, not {type(decoded).__name__}")


def check_query(route: Route, query: dict[str, list[str]]) -> dict[str, list[str]]:
    """The query's parameters checked against the route's model (repeatable ones are lists)."""
    model = route.query
    if model is None:
        if query:
            raise RequestRefused(400, f"invalid request: {route.path} takes no query parameters "
                                      f"({', '.join(sorted(query))})")
        return {}
    fields = model.model_fields
    flat: dict[str, Any] = {}
    for key, values in query.items():
        field = fields.get(key)
        repeated = field is not None and getattr(field.annotation, "__origin__", None) is list
        flat[key] = values if repeated else values[-1]
    try:
        checked = model.model_validate(flat)
    except ValidationError as exc:
        raise RequestRefused(400, _problem("query", exc)) from None
    out: dict[str, list[str]] = {}
    for key, value in checked.model_dump(exclude_unset=True).items():
        if value is None:
            continue
        out[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return out
