"""Where pyorch keeps its state on the host, and how it names what it creates in the kernel.

Every kernel object pyorch creates (cgroup directories, bridges, veths, nftables tables) carries the
instance tag, so that tests can run side by side in temporary roots and so that `down`, crash
recovery and the leak checks can find everything by name.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from runtime.run_root import run_root_of

_INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,15}$")


@dataclass(frozen=True)
class HostLayout:
    """State directories plus the tag that names this pyorch instance's kernel objects."""

    state_root: Path
    run_root: Path
    instance: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> HostLayout:
        env = os.environ if environ is None else environ
        state = Path(env.get("PYORCH_ROOT", "/var/lib/pyorch"))
        run = run_root_of(env)
        instance = env.get("PYORCH_INSTANCE", "pyorch")
        if not _INSTANCE_RE.match(instance):
            raise ValueError(f"PYORCH_INSTANCE {instance!r} must match {_INSTANCE_RE.pattern}")
        return cls(state_root=state, run_root=run, instance=instance)

    # --- directories -----------------------------------------------------------------------
    @property
    def images_dir(self) -> Path:
        return self.state_root / "images"

    @property
    def containers_dir(self) -> Path:
        return self.state_root / "containers"

    @property
    def networks_dir(self) -> Path:
        return self.state_root / "networks"

    @property
    def volumes_dir(self) -> Path:
        return self.state_root / "volumes"

    def make_private_dirs(self) -> None:
        """Create the state and run roots closed to other users (0700, as Docker keeps
        /var/lib/docker): revisions, specs and environments under them may hold secrets. An
        existing root left open by an older pyorch is closed too."""
        for path in (self.state_root, self.run_root, self.containers_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o700)

    # --- kernel object names ---------------------------------------------------------------
    @property
    def cgroup_parent(self) -> str:
        """Relative cgroup path under each hierarchy's root, e.g. ``pyorch`` or ``pyorch-t1a2b``."""
        return self.instance if self.instance.startswith("pyorch") else f"pyorch-{self.instance}"

    @property
    def nft_table(self) -> str:
        return self.cgroup_parent.replace("-", "_")

    @property
    def link_tag(self) -> str:
        """Four hex digits of the instance tag that every interface name of this instance carries,
        so that one instance's links can be told from another's by name alone (leak checks of
        instances running side by side, `system reset`)."""
        return hashlib.sha256(self.instance.encode()).hexdigest()[:4]

    def link_prefix(self, prefix: str) -> str:
        """The start of every interface name this instance gives with ``prefix`` (``pyb``, ``pyv``)."""
        return prefix + self.link_tag

    def short_name(self, prefix: str, *parts: str) -> str:
        """An interface name (≤ 15 bytes) unique to this instance and ``parts``."""
        digest = hashlib.sha256("\0".join((self.instance, *parts)).encode()).hexdigest()
        head = self.link_prefix(prefix)
        return f"{head}{digest[: 15 - len(head)]}"

    def bridge_name(self, network: str) -> str:
        return self.short_name("pyb", network)

    def veth_name(self, container_id: str, network: str) -> str:
        return self.short_name("pyv", container_id, network)
