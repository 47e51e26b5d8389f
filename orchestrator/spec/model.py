"""The Compose model (pydantic, long form): what the loader validates and what the engine receives.

Every key of the Compose specification is accepted and typed. Short syntaxes are turned into the
long form by `forms` in "before" validators; durations become float seconds and byte sizes int
bytes. Unknown keys are refused (`unknown_key` errors carry the key and the known names so the
loader can say "did you mean"); `x-*` extension keys are kept as extra fields.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orchestrator.spec import forms
from orchestrator.spec.units import parse_bytes, parse_duration


def _duration(value: Any) -> Any:
    return None if value is None else parse_duration(value)


def _bytes(value: Any) -> Any:
    return None if value is None else parse_bytes(value)


def _bytes_or_unlimited(value: Any) -> Any:
    if value in (-1, "-1"):
        return -1
    return _bytes(value)


def _truncated(value: Any) -> Any:
    """A YAML float where Compose's schema takes any number for an integer field: Go converts it
    to an int64 by truncation (`1.5` is 1). A string must still be an integer (`"400ms"` is refused,
    as Compose refuses it)."""
    if isinstance(value, float) and math.isfinite(value):
        return math.trunc(value)
    return value


def _flag(value: Any) -> Any:
    """A boolean as Compose takes one: true/false, or a string it reads as one (`yes`, `off`...)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and value.lower() in _FLAG_WORDS:
        return _FLAG_WORDS[value.lower()]
    raise ValueError(f"invalid boolean: {value}")


_FLAG_WORDS = {"true": True, "false": False, "y": True, "yes": True, "on": True, "n": False, "no": False,
               "off": False}
Flag = Annotated[bool, BeforeValidator(_flag)]
Duration = Annotated[float, BeforeValidator(_duration)]
Bytes = Annotated[int, BeforeValidator(_bytes)]
BytesOrUnlimited = Annotated[int, BeforeValidator(_bytes_or_unlimited)]
# cpu_shares, cpu_period, cpu_quota, cpu_rt_*, pids_limit, healthcheck.retries: numbers in Compose's schema.
TruncatedInt = Annotated[int, BeforeValidator(_truncated)]
StringList = Annotated[list[str], BeforeValidator(forms.string_list)]
StringDict = Annotated[dict[str, str], BeforeValidator(forms.string_dict)]
OptionalStringDict = Annotated[dict[str, str | None], BeforeValidator(forms.list_or_dict)]
Command = Annotated[list[str] | None, BeforeValidator(forms.command)]
Scalar = Annotated[str, BeforeValidator(forms.scalar_text)]


class ComposeModel(BaseModel):
    """Base: unknown keys are errors, `x-*` keys are kept, numbers may stand in for strings."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, validate_assignment=False)

    # Keys that exist on the model for the engine but may not be written in a Compose file.
    internal_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def normalize(cls, data: Any) -> Any:
        """Turn a short syntax into the long-form mapping; overridden where a key has one."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        data = cls.normalize(data)
        if isinstance(data, dict):
            known = cls.model_fields  # once: a descriptor call in Python (pydantic ≥ 2.11), not per key
            for key in data:
                if not isinstance(key, str):
                    raise PydanticCustomError("unknown_key", "unknown key {key}", {"key": str(key)})
                if key not in known and not key.startswith("x-"):
                    raise PydanticCustomError(
                        "unknown_key", "unknown key {key}",
                        {"key": key, "known": sorted(set(known) - cls.internal_fields)})
        return data

    @model_validator(mode="after")
    def _empty_is_unset(self) -> Any:
        """An empty string where a key may be absent means absent, as in Compose (Go's zero value)."""
        for name, field in type(self).model_fields.items():
            if field.default is None and getattr(self, name) == "":
                object.__setattr__(self, name, None)
        return self

    def extensions(self) -> dict[str, Any]:
        """The `x-*` keys written on this object."""
        return dict(self.model_extra or {})


# --- shared pieces -----------------------------------------------------------------------------------

class Ulimit(ComposeModel):
    soft: int
    hard: int
    # Written as one number: Compose prints it back as one number (not dumped for the engine).
    _single: int | None = PrivateAttr(default=None)

    @classmethod
    def normalize(cls, data: Any) -> Any:
        if isinstance(data, int | str) and not isinstance(data, bool):
            return {"soft": data, "hard": data}
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _remember_single(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Ulimit:
        ulimit: Ulimit = handler(data)
        if not isinstance(data, dict | Ulimit):
            ulimit._single = ulimit.soft
        return ulimit

    @property
    def single(self) -> int | None:
        return self._single

    @model_serializer(mode="wrap")
    def _dump_single(self, handler: SerializerFunctionWrapHandler) -> Any:
        """One number stays one number (the files' own form, which Compose prints back)."""
        return self._single if self._single is not None else handler(self)


class ServiceConfigRef(ComposeModel):
    """A service's use of a secret or config (short form: the source name)."""

    source: str
    target: str | None = None
    uid: Scalar | None = None
    gid: Scalar | None = None
    mode: int | None = None

    @classmethod
    def normalize(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"source": data}
        if isinstance(data, dict) and isinstance(data.get("mode"), str):
            try:
                return {**data, "mode": int(data["mode"], 8)}
            except ValueError:
                return data
        return data


class DeviceRequest(ComposeModel):
    capabilities: list[str] | None = None
    count: int | Literal["all"] | None = None
    device_ids: list[str] | None = None
    driver: str | None = None
    options: StringDict | None = None


# --- build -------------------------------------------------------------------------------------------

class BuildConfig(ComposeModel):
    context: str | None = None
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    entitlements: list[str] | None = None
    args: OptionalStringDict | None = None
    ssh: Annotated[list[str] | None, BeforeValidator(
        lambda v: [f"{k}={x}" if x is not None else k for k, x in forms.list_or_dict(v).items()]
        if isinstance(v, dict) else v)] = None
    labels: StringDict | None = None
    cache_from: list[str] | None = None
    cache_to: list[str] | None = None
    no_cache: Flag | None = None
    additional_contexts: StringDict | None = None
    network: str | None = None
    provenance: bool | str | None = None
    sbom: bool | str | None = None
    pull: Flag | None = None
    target: str | None = None
    shm_size: Bytes | None = None
    extra_hosts: Annotated[dict[str, str] | None, BeforeValidator(forms.extra_hosts)] = None
    isolation: str | None = None
    privileged: Flag | None = None
    secrets: list[ServiceConfigRef] | None = None
    tags: list[str] | None = None
    ulimits: dict[str, Ulimit] | None = None
    platforms: list[str] | None = None

    @classmethod
    def normalize(cls, data: Any) -> Any:
        return {"context": data} if isinstance(data, str) else data


# --- deploy ------------------------------------------------------------------------------------------

class ResourceLimits(ComposeModel):
    cpus: float | None = None
    memory: Bytes | None = None
    pids: int | None = None


class GenericResource(ComposeModel):
    discrete_resource_spec: dict[str, Any] | None = None


class ResourceReservations(ComposeModel):
    cpus: float | None = None
    memory: Bytes | None = None
    generic_resources: list[GenericResource] | None = None
    devices: list[DeviceRequest] | None = None


class Resources(ComposeModel):
    limits: ResourceLimits | None = None
    reservations: ResourceReservations | None = None


class RestartPolicy(ComposeModel):
    condition: Literal["none", "on-failure", "any"] | None = None
    delay: Duration | None = None
    max_attempts: int | None = None
    window: Duration | None = None


class UpdateConfig(ComposeModel):
    parallelism: int | None = Field(default=None, ge=0)  # 0: all at once (Swarm)
    delay: Duration | None = Field(default=None, ge=0)
    failure_action: Literal["continue", "pause", "rollback"] | None = None
    monitor: Duration | None = Field(default=None, ge=0)
    max_failure_ratio: float | None = Field(default=None, ge=0, le=1)
    order: Literal["stop-first", "start-first"] | None = None


class PlacementPreference(ComposeModel):
    spread: str | None = None


class Placement(ComposeModel):
    constraints: list[str] | None = None
    preferences: list[PlacementPreference] | None = None
    max_replicas_per_node: int | None = None


class Deploy(ComposeModel):
    mode: Literal["replicated", "global", "replicated-job", "global-job"] | None = None
    endpoint_mode: Literal["vip", "dnsrr"] | None = None
    replicas: int | None = Field(default=None, ge=0)
    labels: StringDict | None = None
    rollback_config: UpdateConfig | None = None
    update_config: UpdateConfig | None = None
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    placement: Placement | None = None


# --- other service sub-objects -----------------------------------------------------------------------

class Healthcheck(ComposeModel):
    test: Annotated[list[str] | None, BeforeValidator(forms.healthcheck_test)] = None
    interval: Duration | None = None
    timeout: Duration | None = None
    retries: Annotated[TruncatedInt, Field(ge=0)] | None = None  # a uint64 in Compose
    start_period: Duration | None = None
    start_interval: Duration | None = None
    disable: Flag | None = None
    # The test's first word is checked on enabled services only, as Compose does (consistency.py).


class DependsOn(ComposeModel):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = \
        "service_started"
    required: Flag = True
    restart: Flag = False


class ServicePort(ComposeModel):
    target: int = Field(ge=0, le=65535)
    published: str | None = None
    host_ip: str | None = None
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    mode: Literal["host", "ingress"] = "ingress"
    name: str | None = None
    app_protocol: str | None = None

    @model_validator(mode="after")
    def _check_published(self) -> ServicePort:
        if self.target == 0:  # Compose drops a zero target, then misses it
            raise ValueError("the port is missing a target port (0 is not one)")
        if self.published is not None and not re.fullmatch(r"\d+(-\d+)?", self.published):
            raise ValueError(f"published port {self.published!r} must be a port or a range like 8000-8010")
        return self


class BindOptions(ComposeModel):
    propagation: str | None = None
    create_host_path: Flag | None = None
    recursive: Literal["enabled", "disabled", "writable", "readonly"] | None = None
    selinux: Literal["z", "Z"] | None = None


class VolumeOptions(ComposeModel):
    nocopy: Flag | None = None
    subpath: str | None = None
    labels: StringDict | None = None


class TmpfsOptions(ComposeModel):
    size: Bytes | None = None
    mode: int | None = None


class ImageOptions(ComposeModel):
    subpath: str | None = None


class ServiceVolume(ComposeModel):
    type: Literal["bind", "volume", "tmpfs", "image", "npipe", "cluster"]
    source: str | None = None
    target: str
    read_only: Flag | None = None
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image: ImageOptions | None = None

    @classmethod
    def normalize(cls, data: Any) -> Any:
        return forms.short_volume(data) if isinstance(data, str) else data

    @model_validator(mode="after")
    def _bind_has_a_source(self) -> ServiceVolume:
        if self.type == "bind" and not self.source:
            raise ValueError('invalid mount config for type "bind": field Source must not be empty')
        return self


class ServiceNetwork(ComposeModel):
    aliases: list[str] | None = None
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    interface_name: str | None = None
    link_local_ips: list[str] | None = None
    mac_address: str | None = None
    driver_opts: StringDict | None = None
    priority: int | None = None
    gw_priority: int | None = None


class EnvFile(ComposeModel):
    path: str
    required: Flag = True
    format: str | None = None

    @classmethod
    def normalize(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data


class Extends(ComposeModel):
    service: str
    file: str | None = None

    @classmethod
    def normalize(cls, data: Any) -> Any:
        return {"service": data} if isinstance(data, str) else data


def _no_booleans(value: Any) -> Any:
    """Values Compose takes as strings or numbers only (a YAML boolean is refused)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, bool):
                raise ValueError(f"{key}: must be a string or a number, not a boolean (quote it)")
    return value


class Logging(ComposeModel):
    driver: str | None = None
    # Validators run last-first: booleans are refused before the values become strings.
    options: Annotated[dict[str, str | None] | None, BeforeValidator(forms.list_or_dict),
                       BeforeValidator(_no_booleans)] = None


class DeviceMapping(ComposeModel):
    source: str
    target: str | None = None
    permissions: str | None = None

    @classmethod
    def normalize(cls, data: Any) -> Any:
        """`HOST[:CONTAINER[:PERMISSIONS]]`, permissions `rwm` by default (as Compose reads it)."""
        if isinstance(data, str):
            parts = data.split(":")
            if len(parts) > 3:
                raise ValueError(f"confusing device mapping, please use long syntax: {data}")
            target = parts[1] if len(parts) > 1 and parts[1] else parts[0]
            return {"source": parts[0], "target": target, "permissions": parts[2] if len(parts) > 2 else "rwm"}
        return data


class BlkioLimit(ComposeModel):
    path: str
    rate: Bytes


class BlkioWeight(ComposeModel):
    path: str
    weight: int


class BlkioConfig(ComposeModel):
    device_read_bps: list[BlkioLimit] | None = None
    device_read_iops: list[BlkioLimit] | None = None
    device_write_bps: list[BlkioLimit] | None = None
    device_write_iops: list[BlkioLimit] | None = None
    weight: int | None = None
    weight_device: list[BlkioWeight] | None = None


class CredentialSpec(ComposeModel):
    config: str | None = None
    file: str | None = None
    registry: str | None = None


class WatchRule(ComposeModel):
    path: str
    action: Literal["rebuild", "sync", "restart", "sync+restart", "sync+exec"]
    target: str | None = None
    ignore: StringList | None = None
    include: StringList | None = None
    initial_sync: Flag | None = None
    exec: ServiceHook | None = None


class Develop(ComposeModel):
    watch: list[WatchRule] | None = None


class ServiceHook(ComposeModel):
    command: Command  # required, as Compose's schema says (it may be null)
    user: str | None = None
    privileged: Flag | None = None
    working_dir: str | None = None
    environment: OptionalStringDict | None = None


class Provider(ComposeModel):
    type: str
    options: dict[str, Any] | None = None


class ServiceModelRef(ComposeModel):
    endpoint_var: str | None = None
    model_var: str | None = None


RESTART_PATTERN = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
PULL_POLICY_PATTERN = re.compile(
    r"^(always|never|missing|if_not_present|build|daily|weekly|refresh|every_(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+)$")


def _restart(value: Any) -> Any:
    if value is False:  # `restart: false` written by someone thinking of YAML 1.1
        return "no"
    if isinstance(value, str) and not RESTART_PATTERN.match(value):
        raise ValueError(f"invalid restart policy {value!r} (no, always, on-failure[:N], unless-stopped)")
    return value


def _pull_policy(value: Any) -> Any:
    if isinstance(value, str) and not PULL_POLICY_PATTERN.match(value):
        raise ValueError(f"invalid pull_policy {value!r}")
    return value


# --- service -----------------------------------------------------------------------------------------

class Service(ComposeModel):
    """One service, long form. `name` is filled in by the loader (the key under `services`)."""

    internal_fields: ClassVar[frozenset[str]] = frozenset({"name"})

    name: str = ""
    annotations: StringDict | None = None
    attach: Flag | None = None
    blkio_config: BlkioConfig | None = None
    build: BuildConfig | None = None
    cap_add: list[str] | None = None
    cap_drop: list[str] | None = None
    cgroup: Literal["host", "private"] | None = None
    cgroup_parent: str | None = None
    command: Command = None
    configs: list[ServiceConfigRef] | None = None
    container_name: str | None = None
    cpu_count: int | None = Field(default=None, ge=0)
    cpu_percent: int | None = Field(default=None, ge=0, le=100)
    cpu_period: TruncatedInt | None = None
    cpu_quota: TruncatedInt | None = None
    cpu_rt_period: TruncatedInt | None = None
    cpu_rt_runtime: TruncatedInt | None = None
    cpu_shares: TruncatedInt | None = None
    cpus: float | None = None
    cpuset: str | None = None
    credential_spec: CredentialSpec | None = None
    depends_on: Annotated[dict[str, DependsOn] | None, BeforeValidator(forms.depends_on)] = None
    deploy: Deploy | None = None
    develop: Develop | None = None
    device_cgroup_rules: list[str] | None = None
    devices: list[DeviceMapping] | None = None
    dns: StringList | None = None
    dns_opt: list[str] | None = None
    dns_search: StringList | None = None
    domainname: str | None = None
    entrypoint: Command = None
    env_file: Annotated[list[EnvFile] | None, BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] = None
    environment: OptionalStringDict = Field(default_factory=dict)
    expose: StringList | None = None
    extends: Extends | None = None
    external_links: list[str] | None = None
    extra_hosts: Annotated[dict[str, str] | None, BeforeValidator(forms.extra_hosts)] = None
    gpus: Literal["all"] | list[DeviceRequest] | None = None
    group_add: StringList | None = None
    healthcheck: Healthcheck | None = None
    hostname: str | None = None
    image: str | None = None
    init: Flag | None = None
    ipc: str | None = None
    isolation: str | None = None
    label_file: StringList | None = None
    labels: StringDict | None = None
    links: list[str] | None = None
    logging: Logging | None = None
    mac_address: str | None = None
    mem_limit: Bytes | None = None
    mem_reservation: Bytes | None = None
    mem_swappiness: int | None = Field(default=None, ge=0, le=100)
    memswap_limit: BytesOrUnlimited | None = None
    models: Annotated[dict[str, ServiceModelRef | None] | None, BeforeValidator(forms.keyed_list)] = None
    network_mode: str | None = None
    networks: Annotated[dict[str, ServiceNetwork | None] | None, BeforeValidator(forms.keyed_list)] = None
    oom_kill_disable: Flag | None = None
    oom_score_adj: int | None = Field(default=None, ge=-1000, le=1000)
    pid: str | None = None
    pids_limit: TruncatedInt | None = None
    platform: str | None = None
    ports: Annotated[list[ServicePort] | None, BeforeValidator(forms.ports)] = None
    post_start: list[ServiceHook] | None = None
    pre_start: list[ServiceHook] | None = None
    pre_stop: list[ServiceHook] | None = None
    privileged: Flag | None = None
    profiles: list[str] | None = None
    provider: Provider | None = None
    pull_policy: Annotated[str | None, BeforeValidator(_pull_policy)] = None
    pull_refresh_after: str | None = None
    read_only: Flag | None = None
    restart: Annotated[str | None, BeforeValidator(_restart)] = None
    runtime: str | None = None
    scale: int | None = Field(default=None, ge=0)
    secrets: list[ServiceConfigRef] | None = None
    security_opt: list[str] | None = None
    shm_size: Bytes | None = None
    stdin_open: Flag | None = None
    stop_grace_period: Duration | None = None
    stop_signal: str | None = None
    storage_opt: dict[str, Any] | None = None
    sysctls: StringDict | None = None
    tmpfs: StringList | None = None
    tty: Flag | None = None
    ulimits: dict[str, Ulimit] | None = None
    use_api_socket: Flag | None = None
    user: Scalar | None = None
    userns_mode: str | None = None
    uts: str | None = None
    volumes: list[ServiceVolume] | None = None
    volumes_from: list[str] | None = None
    working_dir: str | None = None
    # Optional dependencies on services the active profiles disable: dropped for the engine,
    # still printed by `config` as Compose prints them.
    _disabled_optional: dict[str, DependsOn] = PrivateAttr(default_factory=dict)

    def disabled_optional_dependencies(self) -> dict[str, DependsOn]:
        return dict(self._disabled_optional)

    def keep_disabled_optional(self, name: str, dependency: DependsOn) -> None:
        self._disabled_optional[name] = dependency


    @property
    def replicas(self) -> int:
        """How many containers the service wants: deploy.replicas, else scale, else 1."""
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return self.scale if self.scale is not None else 1


# --- top-level resources -----------------------------------------------------------------------------

class IpamPool(ComposeModel):
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: StringDict | None = None


class Ipam(ComposeModel):
    driver: str | None = None
    config: list[IpamPool] | None = None
    options: StringDict | None = None


def _external(value: Any) -> Any:
    """Legacy `external: {name: x}` means external with that name."""
    if isinstance(value, dict):
        return True
    return value


class _Resource(ComposeModel):
    @classmethod
    def normalize(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, dict) and isinstance(data.get("external"), dict):
            legacy = data["external"]
            data = {**data, "external": True}
            if "name" in legacy and "name" not in data:
                data["name"] = legacy["name"]
        return data


class Network(_Resource):
    name: str | None = None
    driver: str | None = None
    driver_opts: StringDict | None = None
    ipam: Ipam | None = None
    external: Flag | None = None
    internal: Flag | None = None
    enable_ipv4: Flag | None = None
    enable_ipv6: Flag | None = None
    attachable: Flag | None = None
    labels: StringDict | None = None


class Volume(_Resource):
    name: str | None = None
    driver: str | None = None
    driver_opts: StringDict | None = None
    external: Flag | None = None
    labels: StringDict | None = None


class Secret(_Resource):
    name: str | None = None
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: Flag | None = None
    labels: StringDict | None = None
    driver: str | None = None
    driver_opts: StringDict | None = None
    template_driver: str | None = None


class Config(_Resource):
    name: str | None = None
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: Flag | None = None
    labels: StringDict | None = None
    template_driver: str | None = None


class LanguageModel(ComposeModel):
    name: str | None = None
    model: str
    context_size: int | None = None
    runtime_flags: list[str] | None = None


class Include(ComposeModel):
    path: StringList
    env_file: StringList | None = None
    project_directory: str | None = None

    @classmethod
    def normalize(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data


# --- a file, and the loaded project ------------------------------------------------------------------

class ComposeFile(ComposeModel):
    """One Compose file as written (after interpolation); used to validate each file on its own."""

    version: Scalar | None = None
    name: str | None = None
    include: list[Include] | None = None
    services: dict[str, Service] | None = None
    networks: dict[str, Network] | None = None
    volumes: dict[str, Volume] | None = None
    secrets: dict[str, Secret] | None = None
    configs: dict[str, Config] | None = None
    models: dict[str, LanguageModel] | None = None

    @classmethod
    def normalize(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for section in ("services", "networks", "volumes", "secrets", "configs", "models"):
                if data.get(section) is None and section in data:
                    data = {**data, section: {}}
        return data




class Project(ComposeModel):
    """A loaded project: what `pyorch up` sends to the engine."""

    name: str
    working_dir: Path
    services: dict[str, Service] = Field(default_factory=dict)
    networks: dict[str, Network] = Field(default_factory=dict)
    volumes: dict[str, Volume] = Field(default_factory=dict)
    secrets: dict[str, Secret] = Field(default_factory=dict)
    configs: dict[str, Config] = Field(default_factory=dict)
    models: dict[str, LanguageModel] = Field(default_factory=dict)
    disabled_services: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    # The values of the variables that secrets' and configs' `environment:` name, taken from the
    # loader's environment (as compose-go's project.Environment); never printed by `config`.
    referenced_environment: dict[str, str] = Field(default_factory=dict)
    # What only `config` prints (kept in this process, not sent to the engine): every profile the
    # files declare, enabled or not, and the environment variables were interpolated from.
    _declared_profiles: list[str] = PrivateAttr(default_factory=list)
    _environment: dict[str, str] = PrivateAttr(default_factory=dict)
    # What Compose's normalisation added or changed (normalize.Normalized): `--no-normalize` undoes it.
    _normalized: Any = PrivateAttr(default=None)

    @property
    def declared_profiles(self) -> list[str]:
        return list(self._declared_profiles)

    @property
    def environment(self) -> dict[str, str]:
        return dict(self._environment)

    @property
    def normalized(self) -> Any:
        """What normalisation did (a `normalize.Normalized`), or None for a project not loaded here."""
        return self._normalized

    def remember_loading(self, declared_profiles: list[str], environment: dict[str, str], normalized: Any) -> None:
        self._declared_profiles = sorted(set(declared_profiles))
        self._environment = dict(environment)
        self._normalized = normalized

    def __eq__(self, other: object) -> bool:
        """Same project when the same resources are described (warnings are diagnostics, not state)."""
        if not isinstance(other, Project):
            return NotImplemented
        diagnostics = {"warnings", "disabled_services"}
        return bool(self.model_dump(exclude=diagnostics) == other.model_dump(exclude=diagnostics))

    __hash__ = None  # type: ignore[assignment]


def without_extensions(value: Any) -> Any:
    """The value without `x-*` keys, nor empty mappings and lists (`placement: {}` or `tmpfs: []`
    say nothing more than their absence, as in Compose's Go model; `command: []` does: it clears
    the image's command)."""
    if isinstance(value, dict):
        kept = {k: without_extensions(v) for k, v in value.items() if not str(k).startswith("x-")}
        return {k: v for k, v in kept.items() if v != {} and (v != [] or k in ("command", "entrypoint"))}
    if isinstance(value, list):
        return [without_extensions(v) for v in value]
    return value
