"""``WWW-Authenticate`` challenges (RFC 7235), as registries send them (pure).

Docker Hub: ``Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
scope="repository:library/busybox:pull"``; a registry with htpasswd: ``Basic realm="Registry"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(?:,|$)')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")


@dataclass(frozen=True)
class Challenge:
    scheme: str                     # lower case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in one header value; parameters keep their (unescaped) values.

    Several challenges may share a header (``Basic realm="x", Bearer realm="y"``): a token that is
    not followed by ``=`` starts a new challenge.
    """
    challenges: list[Challenge] = []
    pos = 0
    text = header.strip()
    while pos < len(text):
        scheme = _SCHEME.match(text, pos)
        if scheme is None:
            break
        params: dict[str, str] = {}
        pos = scheme.end()
        while pos < len(text):
            param = _PARAM.match(text, pos)
            if param is None:
                break
            value = param.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else param.group(3)
            params[param.group(1).lower()] = value
            pos = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
        while pos < len(text) and text[pos] in ", ":
            pos += 1
    return challenges
