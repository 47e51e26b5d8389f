"""Base images made offline from host files, for a fresh machine with no registry.

- ``pyorch.local/busybox:latest``: Debian's static busybox with a symlink per applet, the usual
  /etc files, /tmp and a /www for httpd.
- ``pyorch.local/python:3.11``: Debian's /usr/bin/python3.11, its standard library (without test
  suites, tkinter, idlelib, ensurepip, lib2to3 and site/dist-packages), the shared libraries ldd
  names for the interpreter and its extension modules, plus busybox for a shell.
- ``pyorch.local/debian:<codename>`` on request only (it downloads ~45 MB from the host's Debian
  mirror once): a debootstrap minbase, see `runtime.image.debian`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from runtime.image.config import ImageConfig
from runtime.image.errors import ImageError, ImageNotFound
from runtime.image.store import ImageStore

BUSYBOX_REF = "pyorch.local/busybox:latest"
PYTHON_REF = "pyorch.local/python:3.11"
BUSYBOX = Path("/bin/busybox")
PYTHON = Path("/usr/bin/python3.11")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Test suites, GUI and packaging tools are dead weight in a container; config-3.11-* holds the
# static libpython for building extensions (25 MB). __pycache__ stays: without it every container
# start would compile the stdlib again into its throwaway upper layer.
_STDLIB_SKIP = {"test", "tests", "tkinter", "idlelib", "ensurepip", "lib2to3", "site-packages", "dist-packages",
                "turtledemo", "turtle.py"}
_STDLIB_SKIP_PREFIX = "config-3.11"
DEBIAN_PYTHON_PACKAGES = ("python3.11", "libpython3.11-stdlib")

_PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
_GROUP = """root:x:0:
daemon:x:1:
tty:x:5:
www-data:x:33:
users:x:100:
nobody:x:65534:
nogroup:x:65534:
"""
_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def _busybox_binary() -> Path:
    """The image has no libc: only a statically linked busybox (Debian's busybox-static) runs there."""
    if not BUSYBOX.exists():
        raise ImageError("/bin/busybox is missing: install Debian's busybox-static (apt-get install busybox-static)")
    if _needed_libraries([BUSYBOX]):
        raise ImageError("/bin/busybox is dynamically linked (Debian's busybox): install busybox-static instead")
    return BUSYBOX


def build_busybox_rootfs(dest: Path) -> None:
    """A busybox root filesystem in the existing directory ``dest``."""
    busybox = _busybox_binary()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "var/www", "www", "proc", "sys", "dev"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").mkdir(mode=0o1777, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    shutil.copy2(busybox, dest / "bin" / "busybox")
    listing = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, check=True).stdout
    for applet in listing.split():
        link = dest / applet
        if applet == "bin/busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    (dest / "etc" / "passwd").write_text(_PASSWD)
    (dest / "etc" / "group").write_text(_GROUP)
    (dest / "etc" / "hosts").write_text(_HOSTS)
    (dest / "www" / "index.html").write_text("<h1>pyorch busybox</h1>\n")


def _needed_libraries(binaries: list[Path]) -> set[Path]:
    libs: set[Path] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            words = line.split()
            if "=>" in words and len(words) > words.index("=>") + 1 and words[words.index("=>") + 1].startswith("/"):
                libs.add(Path(words[words.index("=>") + 1]))
            elif words and words[0].startswith("/"):
                libs.add(Path(words[0]))
    return libs


def _debian_python() -> Path:
    """Debian's interpreter (not a pyenv or venv one: those live elsewhere and link differently)."""
    if PYTHON.exists() and Path("/usr/lib/python3.11/os.py").exists():
        return PYTHON
    if shutil.which("apt-get") is None:
        raise ImageError(f"{PYTHON} is missing and apt-get is not available: install Debian's python3.11")
    done = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PYTHON_PACKAGES],
                          capture_output=True, text=True, check=False,
                          env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    if done.returncode != 0 or not PYTHON.exists():
        raise ImageError(f"{PYTHON} is missing and `apt-get install {' '.join(DEBIAN_PYTHON_PACKAGES)}` failed:\n"
                         f"{done.stderr.strip()[-2000:]}")
    return PYTHON


def _skip_in_stdlib(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in _STDLIB_SKIP or n.startswith(_STDLIB_SKIP_PREFIX)]


def build_python_rootfs(dest: Path) -> None:
    """Debian's Python 3.11 with its stdlib and shared libraries, plus busybox, in ``dest``."""
    python = _debian_python()
    build_busybox_rootfs(dest)
    (dest / "usr/bin").mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        (dest / "usr/bin" / name).unlink(missing_ok=True)
    shutil.copy2(python, dest / "usr/bin/python3.11")
    (dest / "usr/bin/python3").symlink_to("python3.11")
    (dest / "usr/bin/python").symlink_to("python3.11")
    stdlib = Path("/usr/lib/python3.11")
    shutil.copytree(stdlib, dest / "usr/lib/python3.11", symlinks=True, ignore=_skip_in_stdlib)
    extensions = sorted((stdlib / "lib-dynload").glob("*.so"))
    for lib in _needed_libraries([python, *extensions]):
        target = dest / lib.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copy2(lib, target)  # follows the soname symlink: the file lands under the name asked for


BASE_IMAGES = ("busybox", "python", "debian")
DEFAULT_BASE_IMAGES = ("busybox", "python")   # made from host files alone, in seconds


def ensure_base_images(store: ImageStore, names: Sequence[str] = DEFAULT_BASE_IMAGES) -> list[str]:
    """Import the base images named (``busybox``, ``python``, ``debian``) that are missing; cheap
    when they exist. Returns their references."""
    unknown = sorted(set(names) - set(BASE_IMAGES))
    if unknown:
        raise ImageError(f"no base image {', '.join(unknown)} (choose from {', '.join(BASE_IMAGES)})")
    made = []
    for name in dict.fromkeys(names):
        if name == "debian":
            # here: the Debian root's builder (apt sources, debootstrap) is for this image alone
            from runtime.image.debian import ensure_debian_image

            made.append(ensure_debian_image(store))
        else:
            reference, builder, cmd = _FROM_HOST_FILES[name]
            made.append(_ensure_from_host_files(store, reference, builder, cmd))
    return made


_FROM_HOST_FILES: dict[str, tuple[str, Callable[[Path], None], list[str]]] = {
    "busybox": (BUSYBOX_REF, build_busybox_rootfs, ["sh"]),
    "python": (PYTHON_REF, build_python_rootfs, ["python3"]),
}


def _ensure_from_host_files(store: ImageStore, reference: str, builder: Callable[[Path], None],
                            cmd: list[str]) -> str:
    try:
        store.resolve(reference)
        return reference
    except ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(dir=store.root, prefix=".build-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        rootfs.mkdir()
        builder(rootfs)
        store.import_rootfs(rootfs, reference, ImageConfig(env=[PATH_ENV], cmd=cmd))
    return reference
