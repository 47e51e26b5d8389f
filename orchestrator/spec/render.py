"""What `pyorch config` prints: the canonical project as YAML or JSON, and its listings."""

from __future__ import annotations

import json
from typing import Any

import yaml

from orchestrator.spec.model import Project
from orchestrator.spec.yamlsource import YamlResolver


class _Dumper(yaml.SafeDumper):
    """Block style; strings that YAML 1.1 readers would misread (`no`, `on`, `8080:80`) get quoted."""


_PLAIN_RESOLVER = YamlResolver()
_STR = "tag:yaml.org,2002:str"


def _implicit_tag(resolver: Any, value: str) -> str:
    """The tag a reader with this resolver gives the plain (unquoted) scalar `value`."""
    tag: str = resolver.resolve(yaml.ScalarNode, value, (True, False))
    return tag


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Quote a string whenever a YAML 1.2 (ours) or 1.1 reader would take it for another type."""
    style: str | None = "|" if "\n" in value else None
    if _implicit_tag(_PLAIN_RESOLVER, value) != _STR or _implicit_tag(dumper, value) != _STR:
        style = "'"  # also quoted for YAML 1.1 readers, where `no` and `8080:80` are not strings
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_config(project: Project, fmt: str = "yaml") -> str:
    """The project in long form, in `yaml` or `json`."""
    data = project.to_canonical_dict()
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r} (yaml or json)")
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text


def service_names(project: Project) -> list[str]:
    return list(project.services)


def volume_names(project: Project) -> list[str]:
    return list(project.volumes)


def network_names(project: Project) -> list[str]:
    return list(project.networks)


def profile_names(project: Project) -> list[str]:
    """Every profile named by a service, enabled or not (`config --profiles`)."""
    return sorted({p for s in project.services.values() for p in (s.profiles or [])})


def images(project: Project) -> list[str]:
    """The image of each service; a build-only service is named `<project>-<service>` as Compose does."""
    return [s.image or f"{project.name}-{name}" for name, s in project.services.items()]


def hashes(project: Project, names: list[str] | None = None) -> dict[str, str]:
    """`config --hash`: service → config hash."""
    return {n: project.config_hash(n) for n in (names or list(project.services))}


def as_json_safe(project: Project) -> dict[str, Any]:
    """The JSON the CLI sends to the engine (`Project.model_validate` reads it back)."""
    data: dict[str, Any] = project.model_dump(mode="json")
    return data
