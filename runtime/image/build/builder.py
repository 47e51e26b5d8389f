"""`pyorch build`: a Dockerfile and a context directory in, an image in the store out.

Two passes over the stages the target needs: a check pass that expands and validates every
instruction without touching anything (a bad Dockerfile fails with file:line before any step
runs), then the build pass. Each stage is a list of layers plus a `StageConfig`; RUN, COPY, ADD
and WORKDIR (when the directory is missing) add a layer, the rest only change the config. Layers
come from the cache when their key matches (`cache.py`); a rebuild with nothing changed runs no
RUN and writes no layer.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.container.runtime import ContainerRuntime
from runtime.errors import RuntimeFailure
from runtime.image.build import metadata
from runtime.image.build.cache import BuildCache, CacheEntry, chain
from runtime.image.build.copy_step import URL_PREFIXES, fill_staging, plan_copy
from runtime.image.build.diff import collect_changes, write_diff
from runtime.image.build.dockerignore import DockerIgnore
from runtime.image.build.errors import BuildError, DockerfileError
from runtime.image.build.metadata import StageConfig
from runtime.image.build.parser import Dockerfile, Instruction, parse
from runtime.image.build.run_step import run_container
from runtime.image.build.sources import ContextTree, ImageTree, Ownership, SourceTree, fingerprint
from runtime.image.build.stages import Plan, Stage, needed_stages, select_target, split_stages
from runtime.image.build.view import LayerView
from runtime.image.build.words import WordError, expand
from runtime.image.config import ImageConfig
from runtime.image.errors import ImageNotFound
from runtime.image.layer_tar import write_layer
from runtime.image.store import Image, ImageStore, Layer

Pull = Callable[[str], Image]


@dataclass(frozen=True)
class BuildRequest:
    context: Path
    dockerfile: Path | None = None          # default: <context>/Dockerfile
    dockerfile_inline: str | None = None    # Compose's dockerfile_inline
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    no_cache: bool = False


@dataclass(frozen=True)
class BuildEvent:
    kind: str            # step | output | note
    text: str
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"build": self.kind, "text": self.text, "cached": self.cached}


@dataclass(frozen=True)
class BuildResult:
    image: Image
    steps: int
    cached: int          # layer steps taken from the cache
    ran: int             # RUN steps executed
    warnings: list[str]


@dataclass(frozen=True)
class _State:
    layers: tuple[Layer, ...]
    config: StageConfig
    key: str
    exact: bool = True  # the layers are the stage's files (the check pass makes no layers)


class Builder:
    def __init__(self, runtime: ContainerRuntime, pull: Pull | None = None) -> None:
        self.runtime = runtime
        self.store: ImageStore = runtime.images
        self.cache = BuildCache(self.store)
        self.pull = pull

    def build(self, request: BuildRequest, listener: Callable[[BuildEvent], None] = lambda e: None) -> BuildResult:
        dockerfile, plan, stages, global_args = self._prepare(request)
        for note in dockerfile.notes:
            listener(BuildEvent("note", note))
        run = _Run(self, request, dockerfile, plan, global_args, listener)
        run.execute(stages, check_only=True)
        with self.store.writing():
            final = run.execute(stages, check_only=False)
            config = dataclasses.replace(final.config.image,
                                         labels={**final.config.image.labels, **request.labels})
            image = self.store.add_image(list(final.layers), config, request.tags[0] if request.tags else None,
                                         history=f"pyorch build {request.context}")
            for tag in request.tags[1:]:
                image = self.store.tag(image.id, tag)
        warnings = [f"build argument {name!r} was given but no ARG declares it"
                    for name in sorted(set(request.build_args) - run.declared_args)]
        for warning in warnings:
            listener(BuildEvent("note", warning))
        return BuildResult(image, run.steps, run.cached, run.ran, warnings)

    def _prepare(self, request: BuildRequest) -> tuple[Dockerfile, Plan, list[Stage], dict[str, str]]:
        if not request.context.is_dir():
            raise BuildError(f"build context {request.context} is not a directory")
        if request.dockerfile_inline is not None:
            text, name = request.dockerfile_inline, "dockerfile_inline"
        else:
            path = request.dockerfile or request.context / "Dockerfile"
            if not path.is_absolute():
                path = request.context / path
            try:
                text, name = path.read_text(), str(path)
            except OSError as exc:
                raise BuildError(f"cannot read the Dockerfile {path}: {exc.strerror or exc}") from None
        dockerfile = parse(text, name)
        plan = split_stages(dockerfile)
        global_config = StageConfig()
        for ins in plan.global_args:
            global_config = metadata.declare_args(dockerfile, ins, global_config, request.build_args, {})
        target = select_target(plan, request.target)
        return dockerfile, plan, needed_stages(plan, target, global_config.args), global_config.args


class _Run:
    """One build: the states of finished stages and the counters."""

    def __init__(self, builder: Builder, request: BuildRequest, dockerfile: Dockerfile, plan: Plan,
                 global_args: dict[str, str], listener: Callable[[BuildEvent], None]) -> None:
        self.b = builder
        self.request = request
        self.df = dockerfile
        self.plan = plan
        self.global_args = global_args
        self.listener = listener
        self.ignore = DockerIgnore.from_context(request.context)
        self.declared_args: set[str] = set(global_args) | {
            w.partition("=")[0] for ins in plan.global_args for w in ins.args.split()}
        self.states: dict[int, _State] = {}
        self.steps = self.cached = self.ran = 0
        self.check_only = True

    def execute(self, stages: list[Stage], check_only: bool) -> _State:
        self.check_only = check_only
        self.states = {}
        self.steps = self.cached = self.ran = 0
        total = sum(1 + len(s.instructions) for s in stages)
        state = _State((), StageConfig(), "")
        for stage in stages:
            state = self._from(stage, total)
            for ins in stage.instructions:
                self.steps += 1
                if not check_only:
                    self.listener(BuildEvent("step", f"STEP {self.steps}/{total}: {ins.text}"))
                state = self._step(ins, state)
            self.states[stage.index] = state
        return state

    # --- FROM ------------------------------------------------------------------------------------------
    def _from(self, stage: Stage, total: int) -> _State:
        self.steps += 1
        base = self._expand(stage.line, stage.base, self.global_args)
        if not self.check_only:
            self.listener(BuildEvent("step", f"STEP {self.steps}/{total}: FROM {base}"
                                             + (f" AS {stage.name}" if stage.name else "")))
            if stage.platform:
                self.listener(BuildEvent("note", f"{self.df.filename}:{stage.line}: --platform={stage.platform} "
                                                 "is ignored: pyorch builds for this host"))
        earlier = self.plan.find(base)
        if earlier is not None and earlier.index < stage.index and not base.isdigit():
            parent = self.states.get(earlier.index)
            if parent is None:
                raise self.df.error(stage.line, f"stage {base!r} was not built")
            return _State(parent.layers, StageConfig(image=parent.config.image, shell=parent.config.shell),
                          chain(parent.key, "FROM stage"))
        if base.lower() == "scratch":
            return _State((), StageConfig(), chain("", "FROM scratch"))
        image = self._image(stage.line, base)
        if image is None:  # check pass, image to be pulled later
            return _State((), StageConfig(), "")
        layers = tuple(self._layers_of(image))
        return _State(layers, StageConfig(image=image.config), chain("", f"FROM {image.id}"))

    def _image(self, line: int, reference: str) -> Image | None:
        try:
            return self.b.store.resolve(reference)
        except ImageNotFound:
            if self.b.pull is None:
                raise self.df.error(line, f"base image {reference} is not in the store (pull it first with "
                                          "`pyorch pull`, or use pyorch.local/busybox)") from None
            if self.check_only:
                return None
            try:
                return self.b.pull(reference)
            except RuntimeFailure as exc:
                raise self.df.error(line, f"cannot pull {reference}: {exc}") from exc
        except RuntimeFailure as exc:
            raise self.df.error(line, str(exc)) from exc

    def _layers_of(self, image: Image) -> list[Layer]:
        manifest = self.b.store.read_json(image.manifest_digest)
        config = self.b.store.read_json(image.id)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        return [Layer(str(entry["digest"]), str(diff_id), int(entry.get("size", 0)),
                      str(entry.get("mediaType", "")) or Layer.media_type)
                for entry, diff_id in zip(manifest.get("layers", []), diff_ids, strict=True)]

    # --- one instruction -------------------------------------------------------------------------------
    def _step(self, ins: Instruction, state: _State) -> _State:
        config = state.config
        match ins.keyword:
            case "ARG":
                config = metadata.declare_args(self.df, ins, config, self.request.build_args, self.global_args)
                self.declared_args |= set(config.declared)
                values = {k: config.args.get(k) for k in sorted(config.declared)}
                return _State(state.layers, config, chain(state.key, f"ARG {json.dumps(values)}"))
            case "RUN":
                return self._run(ins, state)
            case "COPY" | "ADD":
                return self._copy(ins, state)
            case "WORKDIR":
                return self._workdir(ins, state)
        config = metadata.apply(self.df, ins, config)
        described = json.dumps([ins.keyword, config.image.to_oci(), list(config.shell)], sort_keys=True)
        return _State(state.layers, config, chain(state.key, described))

    def _run(self, ins: Instruction, state: _State) -> _State:
        if ins.flags.get("network", "none") not in ("none", "default"):
            raise self.df.error(ins.line, f"RUN --network={ins.flags['network']} is not supported: build steps "
                                          "have no network (none)")
        argv = metadata.command(ins, state.config.shell)
        env = dict(state.config.args)
        key = chain(state.key, json.dumps(["RUN", argv, env], sort_keys=True))
        if self.check_only:
            return _State(state.layers, state.config, key, exact=False)
        entry = self._cached(key)
        if entry is None:
            image = self.b.store.add_image(list(state.layers), state.config.image, None,
                                           history="pyorch build step")
            below = LayerView(image.layer_dirs)
            where = f"{self.df.filename}:{ins.line}"
            with run_container(self.b.runtime, image.id, argv, env, state.config.image.user,
                               state.config.image.working_dir, where, self._output) as upper:
                changes = collect_changes(upper, below)
                # A step that changed nothing adds no layer (BuildKit drops empty layers too).
                digest = self.b.store.ingest(lambda out: write_diff(changes, out)) if changes else None
            entry = CacheEntry(self._store_layer(digest) if digest else None)
            self.b.cache.put(key, entry)
            self.ran += 1
        layers = state.layers if entry.layer is None else (*state.layers, entry.layer)
        return _State(layers, state.config, key)

    def _copy(self, ins: Instruction, state: _State) -> _State:
        env = state.config.env()
        if ins.heredocs:
            raise self.df.error(ins.line, f"{ins.keyword} with a heredoc is not supported; put the file in the "
                                          "context")
        items = ins.exec_form if ins.exec_form is not None else metadata.words(self.df, ins, env)
        if len(items) < 2:
            raise self.df.error(ins.line, f"{ins.keyword} wants at least one source and a destination")
        *patterns, dest = items
        if ins.keyword == "ADD":
            for pattern in patterns:
                if pattern.startswith(URL_PREFIXES) or "://" in pattern:
                    raise self.df.error(ins.line, f"ADD {pattern}: URLs are not supported (pyorch builds are "
                                                  "offline); download the file into the context and COPY it")
        owner = self._ownership(ins, state, env)
        tree = self._tree(ins, env)
        if tree is None:  # check pass: the stage it copies from is not built yet
            return _State(state.layers, state.config, "")
        view = LayerView([self.b.store.layer_dir(layer.diff_id) for layer in state.layers])
        try:
            plan = plan_copy(tree, patterns, dest, state.config.image.working_dir, view, ins.keyword)
            digest = fingerprint(tree, plan.sources, owner)
        except BuildError as exc:
            raise self.df.error(ins.line, str(exc)) from None
        key = chain(state.key, json.dumps([ins.keyword, ins.flags, plan.destination, plan.into_directory, digest]))
        if self.check_only:
            return _State(state.layers, state.config, key, exact=False)
        return _State((*state.layers, self._staged_layer(key, ins, lambda staging: fill_staging(
            plan, tree, view, staging, owner))), state.config, key)

    def _tree(self, ins: Instruction, env: dict[str, str]) -> SourceTree | None:
        source = ins.flags.get("from")
        if source is None:
            return ContextTree(self.request.context, self.ignore)
        name = self._expand(ins.line, source, env)
        stage = self.plan.find(name)
        if stage is not None:
            built = self.states.get(stage.index)
            if self.check_only:
                return None  # its files exist only once it is really built
            if built is None:
                raise self.df.error(ins.line, f"COPY --from={name}: that stage is not built before this one")
            return ImageTree(LayerView([self.b.store.layer_dir(layer.diff_id) for layer in built.layers]))
        image = self._image(ins.line, name)
        if image is None:
            return None
        return ImageTree(LayerView(image.layer_dirs))

    def _ownership(self, ins: Instruction, state: _State, env: dict[str, str]) -> Ownership:
        mode = None
        if "chmod" in ins.flags:
            text = self._expand(ins.line, ins.flags["chmod"], env)
            if not text or any(c not in "01234567" for c in text) or int(text, 8) > 0o7777:
                raise self.df.error(ins.line, f"--chmod={text!r}: want an octal mode like 755 or 0644")
            mode = int(text, 8)
        if "chown" not in ins.flags:
            return Ownership(mode=mode)
        spec = self._expand(ins.line, ins.flags["chown"], env)
        user, _, group = spec.partition(":")
        if not user:
            raise self.df.error(ins.line, f"--chown={spec!r}: want user[:group]")
        view = LayerView([self.b.store.layer_dir(layer.diff_id) for layer in state.layers])
        uid = self._lookup_id(ins, view, "/etc/passwd", user, state.exact)
        gid = self._lookup_id(ins, view, "/etc/group", group, state.exact) if group else uid
        return Ownership(uid, gid, mode)

    def _lookup_id(self, ins: Instruction, view: LayerView, path: str, name: str, exact: bool) -> int:
        """A user or group name as the stage's own /etc files say; in the check pass the stage's files
        are only known up to its first layer step (a RUN may add the user), so the lookup waits."""
        if name.isdigit():
            return int(name)
        if self.check_only and (not exact or not view.layers):
            return 0
        for line in (view.read_text(path) or "").splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                return int(fields[2])
        raise self.df.error(ins.line, f"--chown: no {'user' if 'passwd' in path else 'group'} {name!r} in the "
                                      f"image's {path}")

    def _workdir(self, ins: Instruction, state: _State) -> _State:
        path = metadata.workdir(self.df, ins, state.config)
        config = dataclasses.replace(state.config, image=dataclasses.replace(state.config.image, working_dir=path))
        key = chain(state.key, f"WORKDIR {path}")
        if self.check_only:
            return _State(state.layers, config, key, exact=state.exact)
        view = LayerView([self.b.store.layer_dir(layer.diff_id) for layer in state.layers])
        if view.lstat(view.resolve(path)) is not None:
            return _State(state.layers, config, key)

        def make(staging: Path) -> None:
            target = staging / view.resolve(path).lstrip("/")
            target.mkdir(parents=True)
            for parent in [target, *target.parents]:
                if parent == staging:
                    break
                parent.chmod(0o755)
        return _State((*state.layers, self._staged_layer(key, ins, make)), config, key)

    def _output(self, text: str) -> None:
        self.listener(BuildEvent("output", text))

    # --- layers ----------------------------------------------------------------------------------------
    def _cached(self, key: str) -> CacheEntry | None:
        if self.request.no_cache:
            return None
        entry = self.b.cache.get(key)
        if entry is not None:
            self.cached += 1
            shown = entry.layer.diff_id[7:19] if entry.layer is not None else "(no changes)"
            self.listener(BuildEvent("note", f"--> using cache {shown}", cached=True))
        return entry

    def _staged_layer(self, key: str, ins: Instruction, fill: Callable[[Path], None]) -> Layer:
        """The layer of a COPY/ADD/WORKDIR step: from the cache, or filled into a staging directory."""
        entry = self._cached(key)
        if entry is not None and entry.layer is not None:
            return entry.layer
        layer = self._layer_from_staging(fill, ins)
        self.b.cache.put(key, CacheEntry(layer))
        return layer

    def _layer_from_staging(self, fill: Callable[[Path], None], ins: Instruction) -> Layer:
        staging = Path(tempfile.mkdtemp(dir=self.b.store.root, prefix=".build-"))
        try:
            try:
                fill(staging)
            except (OSError, BuildError) as exc:
                detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise self.df.error(ins.line, f"{ins.keyword}: {detail}") from exc
            digest = self.b.store.ingest(lambda out: write_layer(staging, out))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self._store_layer(digest)

    def _store_layer(self, digest: str) -> Layer:
        """An uncompressed layer: its blob digest is its diff_id."""
        self.b.store.unpack(digest, digest)
        return Layer(digest, digest, self.b.store.blob_path(digest).stat().st_size)

    def _expand(self, line: int, text: str, env: dict[str, str]) -> str:
        try:
            return expand(text, env, self.df.escape)
        except WordError as exc:
            raise self.df.error(line, str(exc)) from None


__all__ = ["BuildEvent", "BuildRequest", "BuildResult", "Builder", "DockerfileError", "ImageConfig"]
