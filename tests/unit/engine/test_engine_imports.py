"""What the engine process imports at start: libraries only some requests need are imported by
those requests (each costs the long-lived engine its RSS whether it is used or not; docs/engine.md,
"Fleets of hundreds")."""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = ("httpx",  # registry pulls and `ADD <url>` only
        "runtime.image.build.builder",  # the Dockerfile builder: `build`, and `up` of a service to build
        "runtime.image.build.parser", "runtime.image.build.cache",  # the same; the cache also `builder prune`
        "runtime.image.build.cache_mounts",  # RUN --mount=type=cache: builds, `builder prune`, `image prune`
        "runtime.image.registry.push", "zstandard",  # `push` (zstd is also read by unpacking a zstd layer)
        "runtime.image.archive",  # `save` and `load`
        "runtime.image.bootstrap",  # `images bootstrap` (and its Debian root builder)
        "tarfile")  # writing or unpacking a layer, `save`, `load`, `build`


def test_the_engine_does_not_import_what_only_some_requests_use() -> None:
    code = ("import json, sys; import orchestrator.engine.daemon; "
            f"print(json.dumps([m for m in {LAZY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def _engine_then(code: str) -> object:
    out = subprocess.run([sys.executable, "-c", "import json, sys; import orchestrator.engine.daemon; " + code],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_the_engine_imports_only_the_pyroute2_families_it_uses() -> None:
    # runtime/network/pyroute2_parts.py: rtnetlink and conntrack, not the package's every family.
    unused = ("pyroute2.ndb.main", "pyroute2.ipdb", "pyroute2.netlink.nl80211", "pyroute2.plan9.client",
              "pyroute2.ipvs", "pyroute2.netlink.generic.wireguard")
    found = _engine_then("print(json.dumps([sorted(m for m in sys.modules if m.startswith('pyroute2.iproute')), "
                         f"[m for m in {unused!r} if m in sys.modules]]))")
    assert isinstance(found, list)
    iproute, loaded_unused = found
    assert "pyroute2.iproute.linux" in iproute
    assert loaded_unused == []


def test_pyroute2_stays_whole_for_whoever_asks_the_package() -> None:
    same = _engine_then("from pyroute2 import IPRoute, Conntrack, NDB; "
                        "from runtime.network import pyroute2_parts as parts; "
                        "print(json.dumps([IPRoute is parts.IPRoute, Conntrack is parts.Conntrack, "
                        "'pyroute2.ndb.main' in sys.modules]))")
    assert same == [True, True, True]


def test_push_is_still_the_registry_package_s_own() -> None:
    # runtime/image/registry/__init__.py hands `push_image` out on first use (module __getattr__).
    same = _engine_then("from runtime.image.registry import push_image; "
                        "from runtime.image.registry.push import push_image as real; "
                        "print(json.dumps(push_image is real))")
    assert same is True


def test_bootstrapping_busybox_leaves_the_debian_builder_out() -> None:
    # `images bootstrap` of the default images needs host files only; the Debian root's builder
    # (apt sources, debootstrap) is imported for `images bootstrap debian` alone.
    loaded = _engine_then("import runtime.image.bootstrap; print(json.dumps('runtime.image.debian' in sys.modules))")
    assert loaded is False
