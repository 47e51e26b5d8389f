"""The parts of pyroute2 the network code uses, without the package's `__init__`.

`pyroute2/__init__.py` (0.9) imports every socket family the library has — devlink, ethtool,
IPDB, IPSet, IPVS, nl80211, NDB, plan9, WireGuard...: 195 modules and ~10 MiB of the engine's
RSS, of which the engine uses `IPRoute`, `Conntrack` and their errors (~125 modules, ~5 MiB).
A submodule import always runs its package's `__init__` first, so the package module is made
here from its spec and put in `sys.modules` unexecuted: its submodules then import as usual.
Anyone who later asks the package itself for a name (`from pyroute2 import IPRoute`, as tests
do) gets the whole `__init__` run then, once, by the module's `__getattr__` (PEP 562).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any


def _package_without_init() -> ModuleType:
    """`pyroute2` as imported so far, or registered with its `__init__` deferred."""
    loaded = sys.modules.get("pyroute2")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None:
        raise ImportError("pyroute2 is not installed")
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def run_init_on_demand(name: str) -> Any:
        """A submodule asked for by name (`from pyroute2 import config`, as pyroute2's own modules
        do) is imported; any other name runs the package's `__init__` first (it takes the
        submodules already loaded from `sys.modules`, so nothing is loaded twice)."""
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")
        del package.__dict__["__getattr__"]
        loader.exec_module(package)
        return getattr(package, name)

    package.__dict__["__getattr__"] = run_init_on_demand
    sys.modules["pyroute2"] = package
    return package


_package_without_init()

from pyroute2.conntrack import Conntrack  # noqa: E402
from pyroute2.iproute.linux import IPRoute  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple  # noqa: E402

__all__ = ["Conntrack", "IPRoute", "NFCTAttrTuple", "NetlinkError"]
