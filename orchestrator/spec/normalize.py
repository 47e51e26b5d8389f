"""Compose v2's normalisation of the merged project, on long-form data, before the model is built.

- defaults: a build context of `.` (the project directory);
- `environment`: a bare `KEY` takes its value from the project's variables (the shell, then
  `.env`), else stays unset; `env_file` entries are read under it (a variable in them is looked
  up in the project's variables, then in the service's `environment`), then `environment` wins;
  `format: raw` keeps values verbatim; `label_file` entries are read under `labels` likewise;
- build `args`: a bare name takes its value from the project's variables, else is dropped;
- `pull_policy: if_not_present` is `missing`; volume targets are cleaned (`/data/` → `/data`);
- `links`, and `network_mode`/`ipc`/`pid`/`uts`/`cgroup` set to `service:NAME`, make the service
  depend on NAME (restarted with it), `volumes_from: NAME` too (not restarted), unless
  `depends_on` already names it;
- networks, volumes, secrets and configs without a `name` are named `<project>_<key>`, or `<key>`
  when external; a build without `dockerfile` or `dockerfile_inline` uses `Dockerfile`; a
  service's secret without `target` is mounted at `/run/secrets/<source>`.

What normalisation added or changed is recorded (`Normalized`, by path as `config` prints it)
so that `config --no-normalize` can print the project without it, as Compose does.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.spec.dotenv import read_env_file, read_raw_env
from orchestrator.spec.errors import ComposeError, Location, SchemaError
from orchestrator.spec.merge import enforce_unicity
from orchestrator.spec.value_checks import check_unique_items

Locate = Callable[[tuple[str | int, ...]], Location]


@dataclass
class Normalized:
    """What normalisation did: paths it added, and the values it changed (before the change)."""

    added: set[tuple[str, ...]] = field(default_factory=set)
    originals: dict[tuple[str, ...], Any] = field(default_factory=dict)
    raw_name: str | None = None  # a `name:` from the files, before it was normalised
_SHARED_NAMESPACES = ("network_mode", "ipc", "pid", "uts", "cgroup")


def apply_defaults(data: dict[str, Any], project_dir: Path) -> None:
    """Defaults Compose sets once a project's files are merged (an included project gets its own)."""
    for service in (data.get("services") or {}).values():
        build = service.get("build")
        if isinstance(build, dict) and "context" not in build:
            build["context"] = str(project_dir)


def normalize_services(data: dict[str, Any], environment: Mapping[str, str], locate: Locate,
                       done: Normalized) -> None:
    added = done.added
    for name, service in (data.get("services") or {}).items():
        service.pop("extends", None)
        enforce_unicity(service)
        check_unique_items(service, locate, ("services", name))
        if service.get("pull_policy") == "if_not_present":
            service["pull_policy"] = "missing"
            done.originals[("services", name, "pull_policy")] = "if_not_present"
        service["environment"] = _environment(name, service, environment, locate)
        service.pop("env_file", None)
        if service.get("label_file"):
            service["labels"] = _labels(name, service, locate)
        service.pop("label_file", None)
        build = service.get("build")
        if isinstance(build, dict) and build.get("args"):
            if any(v is None for v in build["args"].values()):
                done.originals[("services", name, "build", "args")] = dict(build["args"])
            build["args"] = {k: v if v is not None else environment[k] for k, v in build["args"].items()
                             if v is not None or k in environment}
        if isinstance(build, dict) and not build.get("dockerfile") and not build.get("dockerfile_inline"):
            build["dockerfile"] = "Dockerfile"
            added.add(("services", name, "build", "dockerfile"))
        deploy = service.get("deploy")
        if service.get("scale") is not None and isinstance(deploy, dict) and deploy.get("replicas") is None:
            deploy["replicas"] = service["scale"]
        for secret in service.get("secrets") or []:
            if isinstance(secret, dict) and not secret.get("target"):
                secret["target"] = f"/run/secrets/{secret['source']}"
        for index, volume in enumerate(service.get("volumes") or []):
            if volume.get("target"):
                target = posixpath.normpath(volume["target"])
                target = target[1:] if target.startswith("//") else target
                if target != volume["target"]:
                    done.originals[("services", name, "volumes", str(index), "target")] = volume["target"]
                volume["target"] = target
        for dependency, spec in (service.get("depends_on") or {}).items():
            if isinstance(spec, dict) and "condition" not in spec:  # checked once the files are merged
                raise SchemaError(f"services.{name}.depends_on.{dependency} missing property 'condition'",
                                  locate(("services", name, "depends_on", dependency)))
        for dependency in _implied_dependencies(service):
            added.add(("services", name, "depends_on", dependency))


def _environment(name: str, service: dict[str, Any], environment: Mapping[str, str],
                 locate: Locate) -> dict[str, str | None]:
    own: dict[str, str | None] = {k: (environment.get(k) if v is None else v)
                                  for k, v in (service.get("environment") or {}).items()}
    values: dict[str, str] = {k: v for k, v in own.items() if v is not None}

    def lookup(key: str) -> str | None:
        found = environment.get(key)
        return found if found is not None else own.get(key)

    for index, entry in enumerate(service.get("env_file") or []):
        path = Path(entry["path"])
        if not path.exists():
            if entry.get("required", True):
                raise ComposeError(f"env file {path} not found", locate(("services", name, "env_file", index)))
            continue
        fmt = entry.get("format") or ""
        where = ("services", name, "env_file", index)
        if fmt == "raw":
            with _located(locate, where):
                read_raw_env(path, lookup, values)
        elif fmt in ("", ".env"):
            with _located(locate, where):
                read_env_file(path, lookup, values)
        else:
            raise ComposeError(f"unsupported env_file format {fmt!r}", locate(where))
    return {**values, **own}


@contextlib.contextmanager
def _located(locate: Locate, where: tuple[str | int, ...]) -> Iterator[None]:
    """Reading a file the Compose file names: an error that has no place of its own (the path is a
    directory, say) is reported where the Compose file names it."""
    try:
        yield
    except ComposeError as exc:
        if exc.location is not None:
            raise
        raise type(exc)(exc.message, locate(where)) from None


def _labels(name: str, service: dict[str, Any], locate: Locate) -> dict[str, str]:
    labels: dict[str, str] = {}
    for index, file in enumerate(service.get("label_file") or []):
        path = Path(file)
        where = ("services", name, "label_file", index)
        if not file or not path.exists():
            raise ComposeError(f"label file {file} not found", locate(where))
        with _located(locate, where):
            read_env_file(path, labels.get, labels)
    return {**labels, **(service.get("labels") or {})}


def _implied_dependencies(service: dict[str, Any]) -> list[str]:
    depends_on: dict[str, Any] = service.get("depends_on") or {}
    implied: list[tuple[str, bool]] = []
    for link in service.get("links") or []:
        parts = link.split(":")
        implied.append((parts[0] if len(parts) == 2 else link, True))
    for key in _SHARED_NAMESPACES:
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            implied.append((value[len("service:"):], True))
    for source in service.get("volumes_from") or []:
        if not source.startswith("container:"):
            implied.append((source.split(":")[0], False))
    added = []
    for dependency, restart in implied:
        if dependency not in depends_on:
            depends_on[dependency] = {"condition": "service_started", "restart": restart, "required": True}
            added.append(dependency)
    if depends_on:
        service["depends_on"] = depends_on
    return added
