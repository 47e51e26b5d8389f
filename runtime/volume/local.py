"""Docker's `local` volume driver options (`driver_opts`: `type`, `device`, `o`), as far as pyorch applies them.

- no options: the volume is a directory under the state root (`<volumes>/<name>/_data`);
- ``type: none`` (or ``bind``) with ``o: bind`` (or ``rbind``, plus ``ro``/``rw``) and ``device:
  /host/path``: the host directory is the volume, bound where the volume is mounted (Docker mounts
  it once on the host; the effect inside the container is the same);
- ``type: tmpfs`` with ``o: size=…,mode=…,uid=…,gid=…,nr_inodes=…``: a tmpfs. Docker mounts one
  tmpfs on the host, shared by the volume's containers while one runs; pyorch mounts one per
  container, inside its own mount namespace, so nothing is left on the host (containers sharing
  a tmpfs volume do not see each other's files).

Everything else (nfs, cifs, block devices, other drivers) is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import RuntimeFailure

LOCAL_DRIVERS = ("", "local")
OPTION_KEYS = ("type", "device", "o")
BIND_TYPES = ("none", "bind")
BIND_FLAGS = ("bind", "rbind", "ro", "rw")
TMPFS_KEYS = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks")


class VolumeOptionError(RuntimeFailure):
    """Driver options pyorch cannot apply."""


@dataclass(frozen=True)
class LocalMount:
    """How a volume is mounted: its own directory, a host directory, or a tmpfs."""

    kind: str                   # directory | bind | tmpfs
    device: str = ""            # bind: the host directory
    read_only: bool = False     # bind: `o: ro`
    tmpfs_options: str = ""     # tmpfs: mount data, e.g. "size=104857600,mode=1777"


def plan_local(name: str, driver: str, options: dict[str, str]) -> LocalMount:
    """The mount for a volume with these driver and options; VolumeOptionError says why not."""
    if driver not in LOCAL_DRIVERS:
        raise VolumeOptionError(f"volume {name}: driver {driver!r} is not supported (only the local driver)")
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise VolumeOptionError(f"volume {name}: driver_opts {', '.join(unknown)} not supported "
                                f"(the local driver takes {', '.join(OPTION_KEYS)})")
    if not options:
        return LocalMount("directory")
    kind = options.get("type", "")
    flags = [o.strip() for o in options.get("o", "").split(",") if o.strip()]
    if kind in BIND_TYPES:
        device = options.get("device", "")
        if not device.startswith("/") or ".." in device.split("/"):
            raise VolumeOptionError(f"volume {name}: a bind volume needs `device:` as an absolute host path")
        wrong = sorted(set(flags) - set(BIND_FLAGS))
        if wrong or not {"bind", "rbind"} & set(flags):
            raise VolumeOptionError(f"volume {name}: `o:` of a bind volume is bind or rbind, with ro or rw "
                                    f"(got {options.get('o', '')!r})")
        return LocalMount("bind", device=device, read_only="ro" in flags)
    if kind == "tmpfs":
        for flag in flags:
            key = flag.partition("=")[0]
            if key not in TMPFS_KEYS:
                raise VolumeOptionError(f"volume {name}: tmpfs option {key!r} not supported "
                                        f"(use {', '.join(TMPFS_KEYS)})")
        return LocalMount("tmpfs", tmpfs_options=",".join(flags))
    raise VolumeOptionError(f"volume {name}: driver_opts type {kind!r} is not supported "
                            "(bind volumes: type none, o bind; tmpfs volumes: type tmpfs)")
