"""``RUN --mount=…``: the mount specifications of one RUN step, parsed and checked (pure, no I/O).

BuildKit's options, comma separated (``type`` defaults to ``bind``):

- ``bind``: ``target`` (required), ``source`` (default the root), ``from`` (a stage or image;
  default the build context), ``rw``/``readwrite`` (writes allowed, thrown away), ``ro``/``readonly``.
- ``cache``: ``target`` (required), ``id`` (default the target), ``sharing`` = ``shared`` (default),
  ``private`` or ``locked``, ``mode`` (octal, default 0755), ``uid``/``gid`` (default 0), ``ro``,
  ``from``/``source`` (what a new cache starts with).
- ``secret``: ``id`` (default the target's base name), ``target`` (default ``/run/secrets/<id>``),
  ``env`` (also, or only, an environment variable), ``required`` (default false), ``mode``
  (default 0400), ``uid``/``gid``.
- ``tmpfs``: ``target`` (required), ``size`` (bytes, or with a k/m/g suffix).
- ``ssh`` is refused: pyorch has no SSH agent forwarding.

Every spec has a ``key`` for the step's cache key: what it mounts, never a secret's value.
"""

from __future__ import annotations

import csv
import posixpath
import re
from dataclasses import dataclass

from runtime.image.build.errors import BuildError

SHARING = ("shared", "private", "locked")
_SIZE = re.compile(r"(\d+)\s*([kmg]?)b?", re.IGNORECASE)
_TRUE = ("", "true", "1")


@dataclass(frozen=True)
class BindSpec:
    target: str
    source: str = ""
    origin: str = ""          # --mount from=: a stage or image; "" = the build context
    writable: bool = False

    def key(self) -> list[str]:
        return ["bind", self.target, self.source, self.origin, str(self.writable)]


@dataclass(frozen=True)
class CacheSpec:
    target: str
    id: str
    sharing: str = "shared"
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    read_only: bool = False
    origin: str = ""          # from=: a stage or image that seeds a new cache
    source: str = ""

    def key(self) -> list[str]:
        return ["cache", self.target, self.id, self.sharing, oct(self.mode), str(self.uid), str(self.gid),
                str(self.read_only), self.origin, self.source]


@dataclass(frozen=True)
class SecretSpec:
    id: str
    target: str | None        # None: only an environment variable
    env: str | None = None
    required: bool = False
    mode: int = 0o400
    uid: int = 0
    gid: int = 0

    def key(self) -> list[str]:
        return ["secret", self.id, self.target or "", self.env or "", oct(self.mode), str(self.uid), str(self.gid)]


@dataclass(frozen=True)
class TmpfsSpec:
    target: str
    size: int | None = None

    def key(self) -> list[str]:
        return ["tmpfs", self.target, str(self.size or "")]


MountSpec = BindSpec | CacheSpec | SecretSpec | TmpfsSpec
_KEYS = {
    "bind": {"target", "source", "from", "rw", "readwrite", "ro", "readonly"},
    "cache": {"target", "id", "sharing", "mode", "uid", "gid", "ro", "readonly", "from", "source"},
    "secret": {"target", "id", "env", "required", "mode", "uid", "gid"},
    "tmpfs": {"target", "size"},
}
_ALIASES = {"dst": "target", "destination": "target", "src": "source"}


def parse_mount(text: str, workdir: str) -> MountSpec:
    """One ``--mount`` value (variables already substituted); a relative target is below WORKDIR."""
    options = _options(text)
    kind = options.pop("type", "bind")
    if kind == "ssh":
        raise BuildError("RUN --mount=type=ssh is not supported: pyorch does not forward an SSH agent "
                         "into builds (use a secret mount for a key, or fetch over HTTPS)")
    if kind not in _KEYS:
        raise BuildError(f"--mount type {kind!r} is unknown (bind, cache, secret, tmpfs)")
    unknown = sorted(set(options) - _KEYS[kind])
    if unknown:
        raise BuildError(f"--mount type={kind}: unknown option {unknown[0]!r}")
    target = options.get("target")
    if target is not None:
        target = _absolute(target, workdir)
    if kind == "secret":
        return _secret(options, target)
    if not target:
        raise BuildError(f"--mount type={kind} needs a target")
    if kind == "tmpfs":
        return TmpfsSpec(target, _size(options["size"]) if "size" in options else None)
    read_only = _flag(options, "ro") or _flag(options, "readonly")
    if kind == "bind":
        return BindSpec(target, _source(options), options.get("from", ""),
                        writable=(_flag(options, "rw") or _flag(options, "readwrite")) and not read_only)
    sharing = options.get("sharing", "shared")
    if sharing not in SHARING:
        raise BuildError(f"--mount type=cache: sharing={sharing!r}: want shared, private or locked")
    return CacheSpec(target, options.get("id") or target, sharing, _octal(options, "mode", 0o755),
                     _number(options, "uid"), _number(options, "gid"), read_only, options.get("from", ""),
                     _source(options))


def _secret(options: dict[str, str], target: str | None) -> SecretSpec:
    secret_id = options.get("id") or (posixpath.basename(target) if target else "")
    if not secret_id:
        raise BuildError("--mount type=secret needs an id (or a target to take it from)")
    env = options.get("env") or None
    if target is None and env is None:
        target = f"/run/secrets/{secret_id}"
    return SecretSpec(secret_id, target, env, _flag(options, "required"), _octal(options, "mode", 0o400),
                      _number(options, "uid"), _number(options, "gid"))


def _options(text: str) -> dict[str, str]:
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error as exc:
        raise BuildError(f"--mount={text!r}: {exc}") from None
    options: dict[str, str] = {}
    for item in fields:
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = _ALIASES.get(name.lower(), name.lower())
        if name in options:
            raise BuildError(f"--mount option {name!r} is given twice")
        options[name] = value if eq else ""
    return options


def _absolute(path: str, workdir: str) -> str:
    joined = posixpath.normpath(posixpath.join(workdir or "/", path))
    if joined == "/":
        raise BuildError("a --mount target may not be /")
    return joined


def _source(options: dict[str, str]) -> str:
    source = posixpath.normpath("/" + options.get("source", "")).lstrip("/")
    return "" if source == "." else source


def _flag(options: dict[str, str], name: str) -> bool:
    if name not in options:
        return False
    value = options[name].lower()
    if value in _TRUE:
        return True
    if value in ("false", "0"):
        return False
    raise BuildError(f"--mount option {name}={options[name]!r}: want true or false")


def _octal(options: dict[str, str], name: str, default: int) -> int:
    text = options.get(name)
    if text is None:
        return default
    if not text or any(c not in "01234567" for c in text) or int(text, 8) > 0o7777:
        raise BuildError(f"--mount option {name}={text!r}: want an octal mode like 0755")
    return int(text, 8)


def _number(options: dict[str, str], name: str) -> int:
    text = options.get(name, "0")
    if not text.isdigit():
        raise BuildError(f"--mount option {name}={text!r}: want a number")
    return int(text)


def _size(text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise BuildError(f"--mount type=tmpfs: size={text!r}: want bytes, or a number with k, m or g")
    return int(match.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2).lower()]
