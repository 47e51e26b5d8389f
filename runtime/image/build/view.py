"""Read-only view of an image's files as overlayfs would merge its layer directories, without mounting.

Used to read sources of ``COPY --from`` and to look at the destination of COPY/WORKDIR (does the
directory exist, is a parent a symlink, what owns it). Whiteouts are 0:0 character devices and
opaque directories carry ``trusted.overlay.opaque=y``, as `unpack.py` writes them. Symlinks are
resolved inside the image root, never on the host.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

from runtime.image.build.errors import BuildError

_MAX_LINKS = 40


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


class LayerView:
    def __init__(self, layer_dirs: list[Path]) -> None:
        self.layers = list(layer_dirs)  # bottom first

    def _in_layer(self, layer: Path, parts: list[str]) -> tuple[str, Path | None]:
        """("found", path) | ("absent", None) | ("hidden", None): hidden stops the search in lower layers."""
        path = layer
        for depth, part in enumerate(parts):
            path = path / part
            st = _lstat(path)
            if st is None:
                parent = path.parent
                if depth > 0 and _is_opaque(parent):
                    return "hidden", None
                return "absent", None
            if _is_whiteout(st):
                return "hidden", None
            if depth < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
                return "hidden", None  # a file here shadows anything below it in lower layers
        return "found", path

    def find(self, path: str) -> Path | None:
        """Host path of the top-most entry for the canonical in-image ``path`` (no symlinks followed)."""
        parts = _split(path)
        if not parts:
            return self.layers[-1] if self.layers else None
        for layer in reversed(self.layers):
            state, found = self._in_layer(layer, parts)
            if state == "found":
                return found
            if state == "hidden":
                return None
        return None

    def lstat(self, path: str) -> os.stat_result | None:
        found = self.find(path)
        return _lstat(found) if found is not None else None

    def resolve(self, path: str, follow_last: bool = True) -> str:
        """The canonical in-image path: symlinks in it followed inside the image, like chroot would."""
        pending = _raw(path)
        done: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/" + "/".join([*done, part])
            st = self.lstat(candidate)
            if st is not None and stat.S_ISLNK(st.st_mode) and (pending or follow_last):
                hops += 1
                if hops > _MAX_LINKS:
                    raise BuildError(f"too many levels of symbolic links resolving {path} in the image")
                found = self.find(candidate)
                assert found is not None
                target = os.readlink(found)
                if target.startswith("/"):
                    done = []
                pending = [*_raw(target), *pending]
                continue
            done.append(part)
        return "/" + "/".join(done)

    def listdir(self, path: str) -> dict[str, Path]:
        """Merged entries of the canonical directory ``path``: name → host path of the visible entry."""
        parts = _split(path)
        entries: dict[str, Path | None] = {}
        for layer in reversed(self.layers):
            state, found = self._in_layer(layer, parts) if parts else ("found", layer)
            if state == "hidden" or found is None:
                if state == "hidden":
                    break
                continue
            if not stat.S_ISDIR(os.lstat(found).st_mode):
                break
            for name in os.listdir(found):
                if name in entries:
                    continue
                st = os.lstat(found / name)
                entries[name] = None if _is_whiteout(st) else found / name
            if parts and _is_opaque(found):
                break
        return {name: p for name, p in sorted(entries.items()) if p is not None}

    def read_text(self, path: str) -> str | None:
        try:
            canonical = self.resolve(path)
        except BuildError:
            return None
        found = self.find(canonical)
        if found is None or not found.is_file():
            return None
        return found.read_text(errors="replace")


def _split(path: str) -> list[str]:
    return [p for p in posixpath.normpath("/" + path).split("/") if p not in ("", ".")]


def _raw(path: str) -> list[str]:
    """Components with ".." kept: they must be applied after the symlinks before them are followed."""
    return [p for p in path.split("/") if p not in ("", ".")]
