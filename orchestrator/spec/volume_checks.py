"""Volume driver options pyorch cannot apply, refused with file:line while loading for a run.

Docker's `local` driver takes `type`, `device` and `o`; pyorch applies two kinds of them (see
runtime/volume/local.py, which enforces the same rules at mount time): a host directory
(`type: none` or `bind`, `o: bind`/`rbind` with `ro`/`rw`, `device:` an absolute path) and a
tmpfs (`type: tmpfs`, `o:` size, mode, uid, gid, nr_inodes, nr_blocks). Other drivers and other
types (nfs, cifs, block devices) are refused here, before anything starts. `pyorch config` skips
this check (`LoadOptions.render_only`): those files are valid Compose.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.spec.errors import Location, UnsupportedError
from orchestrator.spec.model import Project
from orchestrator.spec.yamlsource import Path_

Locate = Callable[[Path_], Location]
OPTION_KEYS = ("type", "device", "o")
BIND_FLAGS = ("bind", "rbind", "ro", "rw")
TMPFS_KEYS = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks")


def check_volume_drivers(project: Project, locate: Locate) -> None:
    for key, volume in project.volumes.items():
        if volume.external:
            continue
        here = ("volumes", key)
        if volume.driver not in (None, "", "local"):
            raise UnsupportedError(f"volume {key!r}: driver {volume.driver!r} is not supported (only local)",
                                   locate((*here, "driver")))
        options = dict(volume.driver_opts or {})
        for option in options:
            if option not in OPTION_KEYS:
                raise UnsupportedError(f"volume {key!r}: driver_opts {option!r} is not supported (the local driver "
                                       f"takes {', '.join(OPTION_KEYS)})", locate((*here, "driver_opts", option)))
        if options:
            _check_type(key, options, locate)


def _check_type(key: str, options: dict[str, str], locate: Locate) -> None:
    def at(option: str) -> Location:
        return locate(("volumes", key, "driver_opts", option))

    kind = options.get("type", "")
    flags = [f.strip() for f in options.get("o", "").split(",") if f.strip()]
    if kind in ("none", "bind"):
        device = options.get("device", "")
        if not device.startswith("/") or ".." in device.split("/"):
            raise UnsupportedError(f"volume {key!r}: a bind volume needs device: as an absolute host path",
                                   at("device" if "device" in options else "type"))
        if set(flags) - set(BIND_FLAGS) or not {"bind", "rbind"} & set(flags):
            raise UnsupportedError(f"volume {key!r}: o: of a bind volume is bind or rbind, with ro or rw",
                                   at("o" if "o" in options else "type"))
    elif kind == "tmpfs":
        for flag in flags:
            if flag.partition("=")[0] not in TMPFS_KEYS:
                raise UnsupportedError(f"volume {key!r}: tmpfs option {flag.partition('=')[0]!r} is not supported "
                                       f"(use {', '.join(TMPFS_KEYS)})", at("o"))
    else:
        raise UnsupportedError(f"volume {key!r}: driver_opts type {kind!r} is not supported (bind volumes: "
                               "type none with o bind; tmpfs volumes: type tmpfs)", at("type" if kind else "o"))
