"""Image references normalised the way Docker does (distribution/reference rules, simplified).

``busybox`` → ``docker.io/library/busybox:latest``; ``team/app`` → ``docker.io/team/app:latest``;
``localhost:5000/app`` and ``registry.example.com/a/b:1`` keep their registry; a digest
(``@sha256:…``) replaces the default tag.
"""

from __future__ import annotations

import re

from runtime.image.errors import ImageError

DEFAULT_REGISTRY = "docker.io"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _is_registry(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"


def normalize(reference: str) -> str:
    ref = reference.strip()
    if not ref:
        raise ImageError("empty image reference")
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not _DIGEST.match(digest):
            raise ImageError(f"invalid digest in image reference {reference!r}")
    name, tag = ref, ""
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ImageError(f"invalid tag {tag!r} in image reference {reference!r}")
    parts = name.split("/")
    if len(parts) > 1 and _is_registry(parts[0]):
        registry, path = parts[0], parts[1:]
    else:
        registry, path = DEFAULT_REGISTRY, parts
    if registry == DEFAULT_REGISTRY and len(path) == 1:
        path = ["library", *path]
    for component in path:
        if not _COMPONENT.match(component):
            raise ImageError(f"invalid image reference {reference!r}: {component!r} must be lowercase "
                             "letters, digits and separators")
    full = f"{registry}/{'/'.join(path)}"
    if digest:
        return f"{full}@{digest}"
    return f"{full}:{tag or 'latest'}"


def short_form(reference: str) -> str:
    """How `images` shows a normalised reference (Docker hides docker.io/library/)."""
    return reference.removeprefix("docker.io/library/").removeprefix("docker.io/")
