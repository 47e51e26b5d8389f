"""The loaded project as Docker Compose v2 prints it (`docker compose config`).

Compose prints its Go model: struct fields in declaration order, maps sorted, `omitempty`
dropping zero values, and a few types with their own text (durations `1m30s`, byte sizes as
strings of bytes, ulimits as one number when soft and hard were written as one). YAML and JSON
differ where Go's encoders differ: YAML drops an empty struct written inline (`placement`,
`ipam`) where JSON writes `{}`, JSON never carries `x-*` keys below the top level, and JSON
leaves out `models`. This module builds that tree from pyorch's model, in the order Compose
writes it; `goformat` turns it into text.

Resources no enabled service uses are left out, as Compose leaves them out, and named
resources get the name Compose gives them (`<project>_<key>`, or the key when external).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from orchestrator.spec.errors import UndefinedReferenceError
from orchestrator.spec.goformat import Float32, duration_string, sorted_keys
from orchestrator.spec.model import (
    BlkioConfig,
    BuildConfig,
    ComposeModel,
    Config,
    Deploy,
    DeviceRequest,
    Healthcheck,
    LanguageModel,
    Network,
    Project,
    Secret,
    Service,
    ServiceConfigRef,
    ServiceHook,
    ServicePort,
    ServiceVolume,
    Ulimit,
    UpdateConfig,
    Volume,
)

# How a field is left out when it holds its zero value (Go's `omitempty`, and what each encoder
# counts as zero): OMIT drops "", 0, False, None, {} and []; NEVER keeps it; PTR is a pointer to a
# struct (dropped when None, printed `{}` when empty); STRUCT is a struct held by value (YAML drops
# it when every field is zero, JSON never drops it).
OMIT, NEVER, PTR, STRUCT = "omit", "never", "ptr", "struct"

Field = tuple[str, Any, str]


class _Absent:
    """A field that exists in Go but has no value in pyorch's model: left out like a zero."""


ABSENT = _Absent()


def _is_zero(value: Any) -> bool:
    if value is None or value is ABSENT:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, Float32):
        return value.value == 0
    if isinstance(value, str | dict | list):
        return len(value) == 0
    return False


class Renderer:
    """Builds the tree for one format ("yaml" or "json")."""

    def __init__(self, project: Project, fmt: str) -> None:
        self.project = project
        self.fmt = fmt

    # --- generic helpers -------------------------------------------------------------------------
    def struct(self, fields: Iterable[Field], extensions: Mapping[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value, omit in fields:
            if value is ABSENT:
                continue
            if (omit == OMIT and _is_zero(value)) or (omit == PTR and value is None):
                continue
            if omit == STRUCT and self.fmt == "yaml" and value == {}:
                continue
            out[key] = value
        if extensions and self.fmt == "yaml":
            for key in sorted_keys(extensions, "yaml"):
                out[key] = self.plain(extensions[key])
        return out

    def mapping(self, items: Mapping[str, Any] | None, convert: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:
        if not items:
            return {}
        return {key: convert(items[key]) for key in sorted_keys(items, self.fmt)}

    def plain(self, value: Any) -> Any:
        """An `x-*` value: a YAML tree as written, maps sorted as Go sorts `map[string]any`; in
        JSON an empty sequence is `null`, as Compose prints it (a nil slice once decoded)."""
        if isinstance(value, dict):
            return {str(k): self.plain(value[k]) for k in sorted_keys(value, self.fmt)}
        if isinstance(value, list):
            return [self.plain(v) for v in value] if value or self.fmt == "yaml" else None
        return value

    @staticmethod
    def ext(model: ComposeModel | None) -> dict[str, Any]:
        return model.extensions() if model is not None else {}

    @staticmethod
    def duration(seconds: float | None) -> str | None:
        return None if seconds is None else duration_string(seconds)

    @staticmethod
    def size(value: int | None) -> str | None:
        """A byte size (Go's UnitBytes): its number as a string; zero counts as unset."""
        return None if not value else str(value)

    @staticmethod
    def f32(value: float | None) -> Float32 | None:
        return None if value is None else Float32(value)

    # --- project ---------------------------------------------------------------------------------
    def project_tree(self) -> dict[str, Any]:
        project = self.project
        used = used_resources(project)
        services = {name: self.service(project.services[name]) for name in sorted_keys(project.services, self.fmt)}
        sections: dict[str, dict[str, Any]] = {
            "networks": self.mapping({k: v for k, v in project.networks.items() if k in used["networks"]},
                                     lambda n: self.network(n)),
            "volumes": self.mapping({k: v for k, v in project.volumes.items() if k in used["volumes"]},
                                    lambda v: self.volume(v)),
            "secrets": self.mapping({k: v for k, v in project.secrets.items() if k in used["secrets"]},
                                    lambda s: self.file_object(s)),
            "configs": self.mapping({k: v for k, v in project.configs.items() if k in used["configs"]},
                                    lambda c: self.file_object(c)),
            "models": self.mapping({k: v for k, v in project.models.items() if k in used["models"]},
                                   lambda m: self.model(m)),
        }
        for section in ("networks", "volumes", "secrets", "configs"):
            for key, body in sections[section].items():
                resource = getattr(project, section)[key]
                body["name"] = resource.name or ""  # the placeholder put first keeps Go's field order
                if not body["name"]:
                    del body["name"]
        extensions = project.extensions()
        if self.fmt == "json":
            top: dict[str, Any] = {"name": project.name, "services": services}
            for section in ("networks", "volumes", "secrets", "configs"):
                if sections[section]:
                    top[section] = sections[section]
            for key, value in extensions.items():
                top[key] = self.plain(value)
            return {key: top[key] for key in sorted_keys(top, "json")}
        return self.struct([
            ("name", project.name, OMIT),
            ("services", services, NEVER),
            *((section, sections[section], OMIT)
              for section in ("networks", "volumes", "secrets", "configs", "models")),
        ], extensions)

    def network(self, network: Network) -> dict[str, Any]:
        ipam = network.ipam
        ipam_tree = self.struct([
            ("driver", ipam.driver if ipam else None, OMIT),
            ("config", [self.struct([
                ("subnet", pool.subnet, OMIT), ("gateway", pool.gateway, OMIT), ("ip_range", pool.ip_range, OMIT),
                ("aux_addresses", self.mapping(pool.aux_addresses), OMIT)], self.ext(pool))
                for pool in (ipam.config or [])] if ipam else None, OMIT),
        ], self.ext(ipam))
        return self.struct([
            ("name", "", NEVER),
            ("driver", network.driver, OMIT),
            ("driver_opts", self.mapping(network.driver_opts), OMIT),
            ("ipam", ipam_tree, STRUCT),
            ("external", network.external, OMIT),
            ("internal", network.internal, OMIT),
            ("attachable", network.attachable, OMIT),
            ("labels", self.mapping(network.labels), OMIT),
            ("enable_ipv4", network.enable_ipv4, OMIT if network.enable_ipv4 is None else NEVER),
            ("enable_ipv6", network.enable_ipv6, OMIT if network.enable_ipv6 is None else NEVER),
        ], self.ext(network))

    def volume(self, volume: Volume) -> dict[str, Any]:
        return self.struct([
            ("name", "", NEVER),
            ("driver", volume.driver, OMIT),
            ("driver_opts", self.mapping(volume.driver_opts), OMIT),
            ("external", volume.external, OMIT),
            ("labels", self.mapping(volume.labels), OMIT),
        ], self.ext(volume))

    def file_object(self, item: Secret | Config) -> dict[str, Any]:
        # Compose never prints a secret's content, nor a config's content taken from the environment.
        content = item.content if isinstance(item, Config) and not item.environment else None
        return self.struct([
            ("name", "", NEVER),
            ("file", item.file, OMIT),
            ("environment", item.environment, OMIT),
            ("content", content, OMIT),
            ("external", item.external, OMIT),
            ("labels", self.mapping(item.labels), OMIT),
            ("driver", item.driver if isinstance(item, Secret) else None, OMIT),
            ("driver_opts", self.mapping(item.driver_opts) if isinstance(item, Secret) else None, OMIT),
            ("template_driver", item.template_driver, OMIT),
        ], self.ext(item))

    def model(self, model: LanguageModel) -> dict[str, Any]:
        return self.struct([
            ("name", model.name, OMIT),
            ("model", model.model, OMIT),
            ("context_size", model.context_size, OMIT),
            ("runtime_flags", model.runtime_flags, OMIT),
        ], self.ext(model))

    # --- service ---------------------------------------------------------------------------------
    def service(self, s: Service) -> dict[str, Any]:
        command_omit = OMIT if self.fmt == "yaml" else NEVER
        return self.struct([
            ("profiles", s.profiles, OMIT),
            ("annotations", self.mapping(s.annotations), OMIT),
            ("attach", s.attach, OMIT if s.attach is None else NEVER),
            ("build", self.build(s.build) if s.build is not None else None, PTR),
            ("develop", self.develop(s) if s.develop is not None else None, PTR),
            ("blkio_config", self.blkio(s.blkio_config) if s.blkio_config is not None else None, PTR),
            ("cap_add", s.cap_add, OMIT),
            ("cap_drop", s.cap_drop, OMIT),
            ("cgroup_parent", s.cgroup_parent, OMIT),
            ("cgroup", s.cgroup, OMIT),
            ("cpu_count", s.cpu_count, OMIT),
            ("cpu_percent", self.f32(s.cpu_percent), OMIT),
            ("cpu_period", s.cpu_period, OMIT),
            ("cpu_quota", s.cpu_quota, OMIT),
            ("cpu_rt_period", s.cpu_rt_period, OMIT),
            ("cpu_rt_runtime", s.cpu_rt_runtime, OMIT),
            ("cpus", self.f32(s.cpus), OMIT),
            ("cpuset", s.cpuset, OMIT),
            ("cpu_shares", s.cpu_shares, OMIT),
            ("command", s.command, command_omit if s.command is None else NEVER),
            ("configs", [self.file_ref(c) for c in s.configs] if s.configs else None, OMIT),
            ("container_name", s.container_name, OMIT),
            ("credential_spec", self.struct([
                ("config", s.credential_spec.config, OMIT), ("file", s.credential_spec.file, OMIT),
                ("registry", s.credential_spec.registry, OMIT)], self.ext(s.credential_spec))
                if s.credential_spec is not None else None, PTR),
            ("depends_on", self.depends_on(s), OMIT),
            ("deploy", self.deploy(s.deploy) if s.deploy is not None else None, PTR),
            ("device_cgroup_rules", s.device_cgroup_rules, OMIT),
            ("devices", [self.struct([("source", d.source, OMIT), ("target", d.target, OMIT),
                                      ("permissions", d.permissions, OMIT)], self.ext(d))
                         for d in s.devices] if s.devices else None, OMIT),
            ("dns", s.dns, OMIT),
            ("dns_opt", s.dns_opt, OMIT),
            ("dns_search", s.dns_search, OMIT),
            ("domainname", s.domainname, OMIT),
            ("entrypoint", s.entrypoint, command_omit if s.entrypoint is None else NEVER),
            ("provider", self.struct([("type", s.provider.type, OMIT),
                                      ("options", self.mapping(s.provider.options, _multi_option), OMIT)],
                                     self.ext(s.provider)) if s.provider is not None else None, PTR),
            ("environment", self.mapping(s.environment), OMIT),
            ("expose", s.expose, OMIT),
            ("external_links", s.external_links, OMIT),
            ("extra_hosts", sorted(f"{h}={ip}" for h, ip in (s.extra_hosts or {}).items()), OMIT),
            ("group_add", s.group_add, OMIT),
            ("gpus", self.gpus(s), OMIT),
            ("hostname", s.hostname, OMIT),
            ("healthcheck", self.healthcheck(s.healthcheck) if s.healthcheck is not None else None, PTR),
            ("image", s.image, OMIT),
            ("init", s.init, OMIT if s.init is None else NEVER),
            ("ipc", s.ipc, OMIT),
            ("isolation", s.isolation, OMIT),
            ("labels", self.mapping(s.labels), OMIT),
            ("label_file", s.label_file, OMIT),
            ("links", s.links, OMIT),
            ("logging", self.struct([("driver", s.logging.driver, OMIT),
                                     ("options", self.mapping(s.logging.options, _option), OMIT)],
                                    self.ext(s.logging)) if s.logging is not None else None, PTR),
            ("mem_limit", self.size(s.mem_limit), OMIT),
            ("mem_reservation", self.size(s.mem_reservation), OMIT),
            ("memswap_limit", self.size(s.memswap_limit), OMIT),
            ("mem_swappiness", self.size(s.mem_swappiness), OMIT),
            ("mac_address", s.mac_address, OMIT),
            ("models", self.mapping(s.models, lambda m: self.struct(
                [("endpoint_var", m.endpoint_var, OMIT), ("model_var", m.model_var, OMIT)], self.ext(m))
                if m is not None else None), OMIT),
            ("network_mode", s.network_mode, OMIT),
            ("networks", self.mapping(s.networks, self.service_network), OMIT),
            ("oom_kill_disable", s.oom_kill_disable, OMIT),
            ("oom_score_adj", s.oom_score_adj, OMIT),
            ("pid", s.pid, OMIT),
            ("pids_limit", s.pids_limit, OMIT),
            ("platform", s.platform, OMIT),
            ("ports", [self.port(p) for p in s.ports] if s.ports else None, OMIT),
            ("privileged", s.privileged, OMIT),
            ("pull_policy", s.pull_policy, OMIT),
            ("read_only", s.read_only, OMIT),
            ("restart", s.restart, OMIT),
            ("runtime", s.runtime, OMIT),
            ("scale", s.scale, OMIT if s.scale is None else NEVER),
            ("secrets", [self.file_ref(r) for r in s.secrets] if s.secrets else None, OMIT),
            ("security_opt", s.security_opt, OMIT),
            ("shm_size", self.size(s.shm_size), OMIT),
            ("stdin_open", s.stdin_open, OMIT),
            ("stop_grace_period", self.duration(s.stop_grace_period), OMIT),
            ("stop_signal", s.stop_signal, OMIT),
            ("storage_opt", self.mapping(s.storage_opt, _option), OMIT),
            ("sysctls", self.mapping(s.sysctls), OMIT),
            ("tmpfs", s.tmpfs, OMIT),
            ("tty", s.tty, OMIT),
            ("ulimits", self.mapping(s.ulimits, self.ulimit), OMIT),
            ("use_api_socket", s.use_api_socket, OMIT),
            ("user", s.user, OMIT),
            ("userns_mode", s.userns_mode, OMIT),
            ("uts", s.uts, OMIT),
            ("volumes", [self.service_volume(v) for v in s.volumes] if s.volumes else None, OMIT),
            ("volumes_from", s.volumes_from, OMIT),
            ("working_dir", s.working_dir, OMIT),
            ("post_start", [self.hook(h) for h in s.post_start] if s.post_start else None, OMIT),
            ("pre_stop", [self.hook(h) for h in s.pre_stop] if s.pre_stop else None, OMIT),
        ], self.ext(s))

    def build(self, b: BuildConfig) -> dict[str, Any]:
        dockerfile = b.dockerfile
        return self.struct([
            ("context", b.context, OMIT),
            ("dockerfile", dockerfile, OMIT),
            ("dockerfile_inline", b.dockerfile_inline, OMIT),
            ("entitlements", b.entitlements, OMIT),
            ("args", self.mapping(b.args), OMIT),
            ("provenance", _bool_text(b.provenance), OMIT),
            ("sbom", _bool_text(b.sbom), OMIT),
            ("ssh", b.ssh, OMIT),
            ("labels", self.mapping(b.labels), OMIT),
            ("cache_from", b.cache_from, OMIT),
            ("cache_to", b.cache_to, OMIT),
            ("no_cache", b.no_cache, OMIT),
            ("additional_contexts", self.mapping(b.additional_contexts), OMIT),
            ("pull", b.pull, OMIT),
            ("extra_hosts", sorted(f"{h}={ip}" for h, ip in (b.extra_hosts or {}).items()), OMIT),
            ("isolation", b.isolation, OMIT),
            ("network", b.network, OMIT),
            ("target", b.target, OMIT),
            ("secrets", [self.file_ref(r) for r in b.secrets] if b.secrets else None, OMIT),
            ("shm_size", self.size(b.shm_size), OMIT),
            ("tags", b.tags, OMIT),
            ("ulimits", self.mapping(b.ulimits, self.ulimit), OMIT),
            ("platforms", b.platforms, OMIT),
            ("privileged", b.privileged, OMIT),
        ], self.ext(b))

    def develop(self, s: Service) -> dict[str, Any]:
        assert s.develop is not None
        watch = []
        for rule in s.develop.watch or []:
            exec_tree = self.hook(rule.exec) if rule.exec else self.hook(None)
            watch.append(self.struct([
                ("path", rule.path, NEVER),
                ("action", rule.action, NEVER),
                ("target", rule.target, OMIT),
                ("exec", exec_tree, STRUCT),
                ("include", rule.include, OMIT),
                ("ignore", rule.ignore, OMIT),
                ("initial_sync", rule.initial_sync, OMIT),
            ], self.ext(rule)))
        return self.struct([("watch", watch, OMIT)], self.ext(s.develop))

    def hook(self, h: ServiceHook | None) -> dict[str, Any]:
        return self.struct([
            ("command", h.command if h else None, (OMIT if self.fmt == "yaml" else NEVER)
             if h is None or h.command is None else NEVER),
            ("user", h.user if h else None, OMIT),
            ("privileged", h.privileged if h else None, OMIT),
            ("working_dir", h.working_dir if h else None, OMIT),
            ("environment", self.mapping(h.environment) if h else None, OMIT),
        ], self.ext(h))

    def blkio(self, b: BlkioConfig) -> dict[str, Any]:
        path, weight, rate = ("path", "weight", "rate") if self.fmt == "yaml" else ("Path", "Weight", "Rate")

        def throttles(items: list[Any] | None) -> list[dict[str, Any]] | None:
            if not items:
                return None
            return [self.struct([(path, t.path, NEVER), (rate, str(t.rate), NEVER)], self.ext(t)) for t in items]

        return self.struct([
            ("weight", b.weight, OMIT),
            ("weight_device", [self.struct([(path, w.path, NEVER), (weight, w.weight, NEVER)], self.ext(w))
                               for w in b.weight_device] if b.weight_device else None, OMIT),
            ("device_read_bps", throttles(b.device_read_bps), OMIT),
            ("device_read_iops", throttles(b.device_read_iops), OMIT),
            ("device_write_bps", throttles(b.device_write_bps), OMIT),
            ("device_write_iops", throttles(b.device_write_iops), OMIT),
        ], self.ext(b))

    def depends_on(self, s: Service) -> dict[str, Any]:
        deps = dict(s.depends_on or {})
        deps.update(s.disabled_optional_dependencies())
        return self.mapping(deps, lambda d: self.struct([
            ("condition", d.condition, OMIT),
            ("restart", d.restart, OMIT),
            ("required", d.required, NEVER),
        ], self.ext(d)))

    def deploy(self, d: Deploy) -> dict[str, Any]:
        resources = d.resources
        return self.struct([
            ("mode", d.mode, OMIT),
            ("replicas", d.replicas, OMIT if d.replicas is None else NEVER),
            ("labels", self.mapping(d.labels), OMIT),
            ("update_config", self.update_config(d.update_config) if d.update_config is not None else None, PTR),
            ("rollback_config", self.update_config(d.rollback_config) if d.rollback_config is not None else None,
             PTR),
            ("resources", self.struct([
                ("limits", self.resource(resources.limits) if resources and resources.limits is not None else None,
                 PTR),
                ("reservations", self.resource(resources.reservations)
                 if resources and resources.reservations is not None else None, PTR),
            ], self.ext(resources)), STRUCT),
            ("restart_policy", self.struct([
                ("condition", d.restart_policy.condition, OMIT),
                ("delay", self.duration(d.restart_policy.delay), OMIT),
                ("max_attempts", d.restart_policy.max_attempts,
                 OMIT if d.restart_policy.max_attempts is None else NEVER),
                ("window", self.duration(d.restart_policy.window), OMIT),
            ], self.ext(d.restart_policy)) if d.restart_policy is not None else None, PTR),
            ("placement", self.struct([
                ("constraints", d.placement.constraints if d.placement else None, OMIT),
                ("preferences", [self.struct([("spread", p.spread, OMIT)], self.ext(p))
                                 for p in d.placement.preferences] if d.placement and d.placement.preferences
                 else None, OMIT),
                ("max_replicas_per_node", d.placement.max_replicas_per_node if d.placement else None, OMIT),
            ], self.ext(d.placement)), STRUCT),
            ("endpoint_mode", d.endpoint_mode, OMIT),
        ], self.ext(d))

    def update_config(self, u: UpdateConfig) -> dict[str, Any]:
        return self.struct([
            ("parallelism", u.parallelism, OMIT if u.parallelism is None else NEVER),
            ("delay", self.duration(u.delay) if u.delay else None, OMIT),
            ("failure_action", u.failure_action, OMIT),
            ("monitor", self.duration(u.monitor) if u.monitor else None, OMIT),
            ("max_failure_ratio", self.f32(u.max_failure_ratio), OMIT),
            ("order", u.order, OMIT),
        ], self.ext(u))

    def resource(self, r: Any) -> dict[str, Any]:
        return self.struct([
            ("cpus", self.f32(r.cpus), OMIT),
            ("memory", self.size(r.memory) if r.memory else None, OMIT),
            ("pids", getattr(r, "pids", None), OMIT),
            ("devices", [self.device_request(d) for d in r.devices] if getattr(r, "devices", None) else None, OMIT),
            ("generic_resources", [self.struct([
                ("discrete_resource_spec", self.discrete(g.discrete_resource_spec), OMIT)], self.ext(g))
                for g in r.generic_resources] if getattr(r, "generic_resources", None) else None, OMIT),
        ], self.ext(r))

    def discrete(self, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        if spec is None:
            return None
        extensions = {k: v for k, v in spec.items() if k.startswith("x-")}
        return self.struct([("kind", spec.get("kind", ""), NEVER), ("value", spec.get("value", 0), NEVER)],
                           extensions)

    def device_request(self, d: DeviceRequest) -> dict[str, Any]:
        count: Any = d.count
        if count == "all" or (count is None and not d.device_ids):
            count = -1
        return self.struct([
            ("capabilities", d.capabilities, OMIT),
            ("driver", d.driver, OMIT),
            ("count", count, OMIT),
            ("device_ids", d.device_ids, OMIT),
            ("options", self.mapping(d.options), OMIT),
        ], self.ext(d))

    def gpus(self, s: Service) -> list[dict[str, Any]] | None:
        if s.gpus is None:
            return None
        if s.gpus == "all":
            return [{"count": -1}]
        return [self.device_request(d) for d in s.gpus]

    def healthcheck(self, h: Healthcheck) -> dict[str, Any]:
        return self.struct([
            ("test", h.test, OMIT),
            ("timeout", self.duration(h.timeout), OMIT),
            ("interval", self.duration(h.interval), OMIT),
            ("retries", h.retries, OMIT if h.retries is None else NEVER),
            ("start_period", self.duration(h.start_period), OMIT),
            ("start_interval", self.duration(h.start_interval), OMIT),
            ("disable", h.disable, OMIT),
        ], self.ext(h))

    def service_network(self, n: Any) -> dict[str, Any] | None:
        if n is None:
            return None
        return self.struct([
            ("aliases", n.aliases, OMIT),
            ("driver_opts", self.mapping(n.driver_opts), OMIT),
            ("gw_priority", n.gw_priority, OMIT),
            ("interface_name", n.interface_name, OMIT),
            ("ipv4_address", n.ipv4_address, OMIT),
            ("ipv6_address", n.ipv6_address, OMIT),
            ("link_local_ips", n.link_local_ips, OMIT),
            ("mac_address", n.mac_address, OMIT),
            ("priority", n.priority, OMIT),
        ], self.ext(n))

    def port(self, p: ServicePort) -> dict[str, Any]:
        return self.struct([
            ("name", p.name, OMIT),
            ("mode", p.mode, OMIT),
            ("host_ip", p.host_ip, OMIT),
            ("target", p.target, OMIT),
            ("published", p.published, OMIT),
            ("protocol", p.protocol, OMIT),
            ("app_protocol", p.app_protocol, OMIT),
        ], self.ext(p))

    def service_volume(self, v: ServiceVolume) -> dict[str, Any]:
        return self.struct([
            ("type", v.type, OMIT),
            ("source", v.source, OMIT),
            ("target", v.target, OMIT),
            ("read_only", v.read_only, OMIT),
            ("consistency", v.consistency, OMIT),
            ("bind", self.struct([
                ("selinux", v.bind.selinux, OMIT), ("propagation", v.bind.propagation, OMIT),
                ("create_host_path", v.bind.create_host_path, OMIT), ("recursive", v.bind.recursive, OMIT),
            ], self.ext(v.bind)) if v.bind is not None else None, OMIT if v.bind is None else NEVER),
            ("volume", self.struct([
                ("labels", self.mapping(v.volume.labels), OMIT), ("nocopy", v.volume.nocopy, OMIT),
                ("subpath", v.volume.subpath, OMIT),
            ], self.ext(v.volume)) if v.volume is not None else None, OMIT if v.volume is None else NEVER),
            ("tmpfs", self.struct([
                ("size", self.size(v.tmpfs.size) if v.tmpfs.size else None, OMIT), ("mode", v.tmpfs.mode, OMIT),
            ], self.ext(v.tmpfs)) if v.tmpfs is not None else None, OMIT if v.tmpfs is None else NEVER),
            ("image", self.struct([("subpath", v.image.subpath, OMIT)], self.ext(v.image))
             if v.image is not None else None, OMIT if v.image is None else NEVER),
        ], self.ext(v))

    def file_ref(self, r: ServiceConfigRef) -> dict[str, Any]:
        return self.struct([
            ("source", r.source, OMIT),
            ("target", r.target, OMIT),
            ("uid", r.uid, OMIT),
            ("gid", r.gid, OMIT),
            ("mode", f"0{r.mode:o}" if r.mode is not None else None, OMIT),
        ], self.ext(r))

    def ulimit(self, u: Ulimit) -> Any:
        if u.single is not None:
            return u.single
        if self.fmt == "yaml":
            return {"soft": u.soft, "hard": u.hard}
        return self.struct([("soft", u.soft, OMIT), ("hard", u.hard, OMIT)])


def _bool_text(value: bool | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _option(value: Any) -> str:
    return "" if value is None else str(value)


def _multi_option(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def used_resources(project: Project) -> dict[str, set[str]]:
    """What enabled services refer to; Compose prints only those resources."""
    used: dict[str, set[str]] = {k: set() for k in ("networks", "volumes", "secrets", "configs", "models")}
    for service in project.services.values():
        used["networks"].update(service.networks or {})
        used["volumes"].update(v.source for v in service.volumes or [] if v.type == "volume" and v.source)
        used["secrets"].update(r.source for r in service.secrets or [])
        if service.build:
            used["secrets"].update(r.source for r in service.build.secrets or [])
        used["configs"].update(r.source for r in service.configs or [])
        used["models"].update(service.models or {})
    return used


def service_tree(project: Project, service: Service) -> dict[str, Any]:
    """One service as `config --format json` prints it (what its config hash covers)."""
    return Renderer(project, "json").service(service)


def compose_tree(project: Project, fmt: str, normalize: bool = True) -> dict[str, Any]:
    """The tree `docker compose config --format <fmt>` prints for this project (`normalize=False`:
    without what Compose's normalisation added, as `--no-normalize` prints it)."""
    tree = Renderer(project, fmt).project_tree()
    done = project.normalized
    if not normalize and done is not None:
        added = done.added
        if ("networks", "default") in added:
            for name, service in project.services.items():
                if "default" in (service.networks or {}) and ("services", name, "networks", "default") not in added:
                    # Without normalisation nothing declares the `default` network this service names.
                    raise UndefinedReferenceError(f"service {name!r} refers to undefined network default")
        for path in sorted(added, key=len, reverse=True):
            _drop(tree, path)
        for path, original in done.originals.items():
            _restore(tree, path, original, fmt)
        if done.raw_name is not None:
            tree["name"] = done.raw_name
    return tree


def _restore(tree: dict[str, Any], path: tuple[str, ...], value: Any, fmt: str) -> None:
    """Put back a value normalisation changed (list indexes are written as text in `path`)."""
    node: Any = tree
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict) and path[-1] in node:
        node[path[-1]] = {k: value[k] for k in sorted_keys(value, fmt)} if isinstance(value, dict) else value


def _drop(tree: dict[str, Any], path: tuple[str, ...]) -> None:
    """Remove what normalisation added; a section or a service's networks/dependencies left empty
    goes too (a resource left without its name stays, printed `{}`)."""
    node: Any = tree
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)
        parent = path[:-1]
        if not node and (len(parent) == 1 or (len(parent) == 3 and parent[2] in ("networks", "depends_on"))):
            _drop(tree, parent)
