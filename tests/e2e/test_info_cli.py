"""`pyorch info` reports what the engine probed at start-up."""

from __future__ import annotations

import dataclasses
import json

import pytest

from runtime.features import bridge_netfilter, probe
from runtime.layout import HostLayout
from tests.helpers import pyorch

pytestmark = pytest.mark.root


def test_info_shows_the_engines_probe(layout: HostLayout) -> None:
    shown = json.loads(pyorch(layout, "info", "--format", "json").stdout)
    here = probe()
    assert shown["cgroup_mode"] == here.cgroup_mode and shown["devices"] == here.devices
    assert shown["controllers"] == here.controllers and shown["seccomp_binding"] == here.seccomp_binding
    assert shown["bridge_netfilter"] == dataclasses.asdict(bridge_netfilter())  # read afresh for each request
    assert shown["uplink"] == (dataclasses.asdict(here.uplink) if here.uplink else None)
    table = pyorch(layout, "info").stdout
    assert "device allowlist" in table and here.devices in table and "bridge netfilter" in table
