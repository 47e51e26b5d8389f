"""Image references normalised the way Docker does (the distribution/reference rules).

``busybox`` → ``docker.io/library/busybox:latest``; ``team/app`` → ``docker.io/team/app:latest``;
``localhost:5000/app`` and ``registry.example.com/a/b:1`` keep their registry (a first component
is a registry when it has a ``.`` or ``:``, is ``localhost``, or has capitals); ``index.docker.io``
is the old name of ``docker.io``; a digest (``@sha256:…``) replaces the tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.image.errors import ImageError

DEFAULT_REGISTRY = "docker.io"
_LEGACY_REGISTRY = "index.docker.io"
_OFFICIAL_NAMESPACE = "library"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_REGISTRY = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?|\[[0-9A-Fa-f:]+\](?::[0-9]+)?", re.ASCII)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_MAX_NAME = 255


class InvalidReference(ImageError):
    """The text is not a valid image reference."""


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised reference: ``registry/path`` plus a tag or a digest (never both)."""

    registry: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.path}"

    def __str__(self) -> str:
        if self.digest:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag}"


def _is_registry(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost" or part.lower() != part


def parse(reference: str) -> Reference:
    """Parse and normalise ``reference``; `InvalidReference` says what is wrong with it."""
    ref = reference.strip()
    if not ref:
        raise InvalidReference("empty image reference")
    digest: str | None = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise InvalidReference(f"invalid digest in image reference {reference!r}: want sha256:<64 hex digits>")
    name, tag = ref, None
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"invalid tag {tag!r} in image reference {reference!r}")
    if _HEX64.fullmatch(name):
        raise InvalidReference(f"invalid repository name {reference!r}: 64 hex digits are an image id, "
                               "not a name")
    parts = name.split("/")
    if len(parts) > 1 and _is_registry(parts[0]):
        registry, path = parts[0], parts[1:]
        if not _REGISTRY.fullmatch(registry):
            raise InvalidReference(f"invalid registry {registry!r} in image reference {reference!r}")
        if registry == _LEGACY_REGISTRY:
            registry = DEFAULT_REGISTRY
    else:
        registry, path = DEFAULT_REGISTRY, parts
    if registry == DEFAULT_REGISTRY and len(path) == 1:
        path = [_OFFICIAL_NAMESPACE, *path]
    for component in path:
        if not _COMPONENT.fullmatch(component):
            raise InvalidReference(f"invalid image reference {reference!r}: {component!r} must be lowercase "
                                   "letters and digits, separated by '.', '_', '__' or '-'")
    full_path = "/".join(path)
    if len(registry) + 1 + len(full_path) > _MAX_NAME:
        raise InvalidReference(f"image name in {reference!r} is longer than {_MAX_NAME} characters")
    if digest:
        return Reference(registry, full_path, None, digest)
    return Reference(registry, full_path, tag or "latest", None)


def normalize(reference: str) -> str:
    """The canonical text of ``reference``, e.g. ``docker.io/library/busybox:latest``."""
    return str(parse(reference))


def short_form(reference: str) -> str:
    """How `images` shows a normalised reference (Docker hides docker.io/library/)."""
    return reference.removeprefix(f"{DEFAULT_REGISTRY}/{_OFFICIAL_NAMESPACE}/").removeprefix(f"{DEFAULT_REGISTRY}/")
