"""The RUN instruction: its network, its mounts, its cache key, its container, its layer.

The network is the step's ``--network`` (``default`` means the build's: Compose ``build.network``
or ``--network``, itself ``default`` unless set): ``default`` puts the container on the build
network (`network.py`), ``none`` gives it only loopback, ``host`` the host's own network (allowed
only when the build asks for host networking or grants the ``network.host`` entitlement, as
BuildKit). The cache key holds the command, the build arguments it sees, the network mode, the
mounts (what they mount, never a secret's value) and the content of bind-mounted sources.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.container.runconfig import Mount
from runtime.image.build import metadata
from runtime.image.build.cache import CacheEntry, chain
from runtime.image.build.diff import collect_changes, write_diff
from runtime.image.build.errors import BuildError
from runtime.image.build.mounts import BindSpec, MountSpec, parse_mount
from runtime.image.build.network import HOST_GATEWAY
from runtime.image.build.parser import Instruction
from runtime.image.build.progress import Vertex
from runtime.image.build.run_step import StepContainer, run_container
from runtime.image.build.sources import Ownership, SourceTree, fingerprint
from runtime.image.build.state import StageState
from runtime.image.build.step_mounts import prepared_mounts
from runtime.image.store import Layer

if TYPE_CHECKING:
    from runtime.image.build.run import BuildRun

NETWORK_MODES = ("default", "none", "host")
SCRIPTS_DIR = "/dev/pipes"  # where BuildKit puts a RUN heredoc that is a script of its own (#!)


def run_step(run: BuildRun, ins: Instruction, state: StageState, vertex: Vertex | None) -> StageState:
    env = state.config.env()
    network = network_mode(run, ins)
    specs = [_mount(run, ins, text, env, state) for text in ins.all("mount")]
    security = ins.flags.get("security", "sandbox")
    if security != "sandbox":
        raise run.df.error(ins.line, f"RUN --security={security} is not supported: build steps run with the "
                                     "default seccomp profile and capabilities (sandbox)")
    script = metadata.script_heredoc(ins)
    argv = [f"{SCRIPTS_DIR}/{ins.heredocs[0].name}"] if script is not None else \
        metadata.command(ins, state.config.shell)
    args = dict(state.config.args)
    sources = [_bind_fingerprint(run, ins, spec) for spec in specs if isinstance(spec, BindSpec)]
    key = chain(state.key, json.dumps(["RUN", argv, args, network, [s.key() for s in specs], sources,
                                       script], sort_keys=True))
    created_by = _created_by(argv if script is None else [*state.config.shell, script], args)
    if run.check_only:  # the command's changes are unknown until it runs
        return dataclasses.replace(state.with_step(created_by, None, key), exact=False)
    entry = run.from_cache(key, vertex)
    if entry is None:
        entry = CacheEntry(_execute(run, ins, state, argv, args, network, specs, script, vertex))
        run.b.cache.put(key, entry)
        run.count_run()
    return state.with_step(created_by, entry.layer, key)


def network_mode(run: BuildRun, ins: Instruction) -> str:
    mode = ins.flags.get("network", "default")
    if mode not in NETWORK_MODES:
        raise run.df.error(ins.line, f"RUN --network={mode}: want default, none or host")
    if mode == "default":
        mode = run.request.network
    if mode == "host" and run.request.network != "host" and "network.host" not in run.request.allow:
        raise run.df.error(ins.line, "RUN --network=host needs the network.host entitlement: build with "
                                     "--allow network.host (Compose: build.entitlements: [network.host])")
    return mode


def _mount(run: BuildRun, ins: Instruction, text: str, env: dict[str, str], state: StageState) -> MountSpec:
    try:
        spec = parse_mount(run.expand(ins.line, text, env), state.config.image.working_dir)
    except BuildError as exc:
        raise run.df.error(ins.line, str(exc)) from None
    origin = getattr(spec, "origin", "")
    if origin and run.plan.find(origin) is None and run.check_only:
        run.image(ins.line, origin)  # an image: refused now if it cannot be found or pulled
    return spec


def _bind_fingerprint(run: BuildRun, ins: Instruction, spec: BindSpec) -> str:
    """A bind-mounted source is an input of the step: its content is part of the key (as BuildKit)."""
    tree = run.tree_of(ins.line, spec.origin)
    if tree is None:
        return ""  # check pass: that stage is not built yet
    try:
        canonical = tree.canonical(spec.source)
        if tree.entry(canonical) is None:
            raise BuildError(f"--mount type=bind: source {spec.source or '/'!r} not found")
        return fingerprint(tree, [canonical], Ownership())
    except BuildError as exc:
        raise run.df.error(ins.line, str(exc)) from None


def _execute(run: BuildRun, ins: Instruction, state: StageState, argv: list[str], args: dict[str, str],
             network: str, specs: list[MountSpec], script: str | None, vertex: Vertex | None) -> Layer | None:
    store = run.b.store
    image = store.add_image(list(state.layers), state.config.image, None, history="pyorch build step")
    below = run.view(state.layers)
    net = _network(run, network)
    with tempfile.TemporaryDirectory(dir=store.root, prefix=".build-script-") as scratch, \
            prepared_mounts(specs, store_root=store.root, secret_root=run.b.runtime.layout.run_root / "build-secrets",
                            secrets=run.request.secrets,
                            tree_of=lambda origin: _tree(run, ins, origin)) as mounts:
        extra = list(mounts.mounts)
        if script is not None:
            path = Path(scratch) / "script"
            path.write_text(script)
            os.chmod(path, 0o755)
            extra.append(Mount("bind", argv[0], str(path), read_only=True, create_host_path=False))
        step = StepContainer(image.id, argv, {**args, **mounts.env}, state.config.image.user,
                             state.config.image.working_dir, net.mode, net.on_pid, net.hosts, net.dns, extra)
        output = vertex.log if vertex is not None else (lambda text: None)
        with run_container(run.b.runtime, step, run.where(ins), output, run.cancelled, net.gone) as upper:
            changes = collect_changes(upper, below, frozenset(mounts.targets))
            # A step that changed nothing adds no layer (BuildKit drops empty layers too).
            digest = store.ingest(lambda out: write_diff(changes, out)) if changes else None
    return run.store_layer(digest) if digest else None


def _tree(run: BuildRun, ins: Instruction, origin: str) -> SourceTree:
    tree = run.tree_of(ins.line, origin)
    if tree is None:
        raise run.df.error(ins.line, f"--mount from={origin}: not built")
    return tree


@dataclass
class _StepNetwork:
    hosts: dict[str, str]
    mode: str                                          # the container's: "" (attached by on_pid), none, host
    on_pid: Callable[[str, int], object] | None = None
    gone: Callable[[str], None] = lambda cid: None
    dns: list[str] = field(default_factory=list)


def _network(run: BuildRun, mode: str) -> _StepNetwork:
    """What the step's container needs for its network mode; ``host-gateway`` names the host."""
    wanted = dict(run.request.extra_hosts)
    if mode == "none":  # no way to the host: a host-gateway name is left out, as Docker does
        return _StepNetwork({name: ip for name, ip in wanted.items() if ip != HOST_GATEWAY}, mode)
    if mode == "host":
        return _StepNetwork({name: ("127.0.0.1" if ip == HOST_GATEWAY else ip) for name, ip in wanted.items()}, mode)
    info = run.network.ensure()
    return _StepNetwork({name: (info.gateway if ip == HOST_GATEWAY else ip) for name, ip in wanted.items()}, "",
                        run.network.attach, run.network.detach, run.network.resolvers())


def _created_by(argv: list[str], args: dict[str, str]) -> str:
    """Docker's history text for RUN: ``RUN |2 A=1 B=2 /bin/sh -c make`` (the build args it saw)."""
    shown = " ".join(argv)
    if args:
        shown = f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in sorted(args.items())) + " " + shown
    return f"RUN {shown}"
