"""One build: the stages the target needs, checked in order, then built side by side.

The check pass walks every stage in file order without touching anything, so a bad Dockerfile
fails with file:line before any step runs. The build pass gives each stage a thread: a stage
waits only for the earlier stages it reads (FROM <stage>, COPY --from, RUN --mount from=), so
independent stages run at the same time, as BuildKit runs them. The first stage to fail cancels
the others (a running RUN container is killed) and its error is the build's.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.errors import RuntimeFailure
from runtime.image.build import metadata
from runtime.image.build.cache import CacheEntry, chain
from runtime.image.build.copy_instruction import copy_step
from runtime.image.build.dockerignore import DockerIgnore
from runtime.image.build.errors import BuildCancelled, BuildError
from runtime.image.build.metadata import DEFAULT_SHELL, StageConfig
from runtime.image.build.parser import Dockerfile, Instruction, parse_trigger
from runtime.image.build.progress import Progress, Vertex
from runtime.image.build.run_instruction import run_step
from runtime.image.build.sources import ContextTree, ImageTree, SourceTree
from runtime.image.build.stages import Plan, Stage, stage_sources
from runtime.image.build.state import LAYER_STEPS, StageCursor, StageState
from runtime.image.build.view import LayerView
from runtime.image.build.words import WordError, expand
from runtime.image.config import ImageConfig
from runtime.image.errors import ImageNotFound
from runtime.image.layer_tar import write_layer
from runtime.image.store import Image, Layer

if TYPE_CHECKING:
    from runtime.image.build.builder import Builder, BuildRequest
    from runtime.image.build.network import BuildNetwork

MAX_PARALLEL_STAGES = 4


class BuildRun:
    """The state of one build: finished stages, counters, the cancel flag."""

    def __init__(self, builder: Builder, request: BuildRequest, dockerfile: Dockerfile, plan: Plan,
                 global_args: dict[str, str], progress: Progress, network: BuildNetwork,
                 cancelled: threading.Event | None = None) -> None:
        self.b = builder
        self.request = request
        self.df = dockerfile
        self.plan = plan
        self.global_args = global_args
        self.progress = progress
        self.network = network
        self.ignore = DockerIgnore.from_context(request.context)
        self.declared_args: set[str] = set(global_args) | {
            w.partition("=")[0] for ins in plan.global_args for w in ins.args.split()}
        self.check_only = True
        self.cancelled = cancelled or threading.Event()
        self._lock = threading.Lock()
        self._checked: dict[int, StageState] = {}
        self._futures: dict[int, Future[StageState]] = {}
        self.steps = self.cached = self.ran = 0

    # --- the two passes --------------------------------------------------------------------------------
    def check(self, stages: list[Stage]) -> None:
        self.check_only = True
        for stage in stages:
            self._checked[stage.index] = self._stage(stage)

    def build(self, stages: list[Stage]) -> StageState:
        self.check_only = False
        self.steps = self.cached = self.ran = 0
        workers = max(1, min(MAX_PARALLEL_STAGES, len(stages)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="build-stage") as pool:
            # File order: a stage only waits for earlier ones, which were submitted (and started) first.
            for stage in stages:
                self._futures[stage.index] = pool.submit(self._guarded, stage)
            errors: list[BaseException] = []
            for stage in stages:
                error = self._futures[stage.index].exception()
                if error is not None:
                    errors.append(error)
        if errors:
            real = [e for e in errors if not isinstance(e, BuildCancelled)]
            raise (real or errors)[0]
        return self._futures[stages[-1].index].result()

    def _guarded(self, stage: Stage) -> StageState:
        try:
            if self.cancelled.is_set():
                raise BuildCancelled("cancelled")
            return self._stage(stage)
        except BaseException:
            self.cancelled.set()
            raise

    def stage_state(self, line: int, stage: Stage) -> StageState | None:
        """A finished earlier stage (the build pass waits for it); None in the check pass when it
        could not be checked exactly (its files exist only once it is built)."""
        if self.check_only:
            return self._checked.get(stage.index)
        future = self._futures.get(stage.index)
        if future is None:
            raise self.df.error(line, f"stage {stage.name or stage.index} is not built before this one")
        try:
            return future.result()
        except BaseException:
            raise BuildCancelled(f"{self.df.filename}:{line}: a stage it needs failed") from None

    # --- one stage -------------------------------------------------------------------------------------
    def _stage(self, stage: Stage) -> StageState:
        state, triggers = self._from(stage)
        label = (stage.name or f"stage-{stage.index}") if len(self.plan.stages) > 1 else ""
        cursor = StageCursor(stage, label, 1 + sum(1 for i in [*triggers, *stage.instructions]
                                                   if i.keyword in LAYER_STEPS), triggers=triggers)
        self._count(steps=1)
        if not self.check_only:
            base = self._expand(stage.line, stage.base, self.global_args)
            vertex = cursor.vertex(self.progress, f"FROM {base}" + (f" AS {stage.name}" if stage.name else ""))
            vertex.done()
        for ins in [*triggers, *stage.instructions]:
            if self.cancelled.is_set():
                raise BuildCancelled("cancelled")
            self._count(steps=1)
            state = self._step(ins, state, cursor)
        return state

    def _from(self, stage: Stage) -> tuple[StageState, list[Instruction]]:
        base = self._expand(stage.line, stage.base, self.global_args)
        if not self.check_only and stage.platform:
            self.progress.note(f"{self.df.filename}:{stage.line}: --platform={stage.platform} is ignored: pyorch "
                               "builds for this host")
        earlier = self.plan.find(base)
        if earlier is not None and earlier.index < stage.index and not base.isdigit():
            parent = self.stage_state(stage.line, earlier)
            if parent is None:
                return StageState((), StageConfig(), "", exact=False), []
            config = StageConfig(image=parent.config.image, shell=parent.config.shell)
            return StageState(parent.layers, config, chain(parent.key, "FROM stage"), parent.exact,
                              parent.history), []
        if base.lower() == "scratch":
            return StageState((), StageConfig(), chain("", "FROM scratch")), []
        image = self.image(stage.line, base)
        if image is None:  # check pass, image to be pulled later
            return StageState((), StageConfig(), "", exact=False), []
        shell = tuple(image.config.shell) if image.config.shell else DEFAULT_SHELL
        triggers = [parse_trigger(text, self.df.filename, stage.line, self.df.escape) for text in image.config.on_build]
        # The triggers run here and are not passed on (Docker clears OnBuild in the new image).
        config = StageConfig(image=_without_triggers(image), shell=shell)
        history = tuple(self.b.store.read_json(image.id).get("history") or ())
        return StageState(tuple(self.layers_of(image)), config, chain("", f"FROM {image.id}"),
                          history=history), triggers

    def image(self, line: int, reference: str) -> Image | None:
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

    def layers_of(self, image: Image) -> list[Layer]:
        manifest = self.b.store.read_json(image.manifest_digest)
        config = self.b.store.read_json(image.id)
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        return [Layer(str(entry["digest"]), str(diff_id), int(entry.get("size", 0)),
                      str(entry.get("mediaType", "")) or Layer.media_type)
                for entry, diff_id in zip(manifest.get("layers", []), diff_ids, strict=True)]

    # --- one instruction -------------------------------------------------------------------------------
    def _step(self, ins: Instruction, state: StageState, cursor: StageCursor) -> StageState:
        match ins.keyword:
            case "ARG":
                config = metadata.declare_args(self.df, ins, state.config, self.request.build_args,
                                               self.global_args)
                if self.check_only:
                    self.declared_args |= set(config.declared)
                values = {k: config.args.get(k) for k in sorted(config.declared)}
                return state.with_step(f"ARG {ins.args}", None, chain(state.key, f"ARG {json.dumps(values)}"), config)
            case "RUN" | "COPY" | "ADD" | "WORKDIR":
                if not self.check_only:
                    self._await_sources(ins, state)  # the step shows as started once it can start
                vertex = None if self.check_only else cursor.vertex(self.progress, ins.text)
                try:
                    if ins.keyword == "RUN":
                        result = run_step(self, ins, state, vertex)
                    elif ins.keyword == "WORKDIR":
                        result = self._workdir(ins, state, vertex)
                    else:
                        result = copy_step(self, ins, state, vertex)
                except BaseException:
                    if vertex is not None:
                        vertex.fail()
                    raise
                if vertex is not None:
                    vertex.done()
                return result
        config = metadata.apply(self.df, ins, state.config)
        described = json.dumps([ins.keyword, config.image.to_oci(), list(config.shell)], sort_keys=True)
        return state.with_step(f"{ins.keyword} {ins.args}", None, chain(state.key, described), config)

    def _await_sources(self, ins: Instruction, state: StageState) -> None:
        for name in stage_sources(ins):
            stage = self.plan.find(self._expand(ins.line, name, state.config.env()))
            if stage is not None:
                self.stage_state(ins.line, stage)

    def _workdir(self, ins: Instruction, state: StageState, vertex: Vertex | None) -> StageState:
        path = metadata.workdir(self.df, ins, state.config)
        config = dataclasses.replace(state.config,
                                     image=dataclasses.replace(state.config.image, working_dir=path))
        key = chain(state.key, f"WORKDIR {path}")
        created_by = f"WORKDIR {path}"
        if self.check_only:
            return dataclasses.replace(state.with_step(created_by, None, key, config), exact=state.exact)
        view = self.view(state.layers)
        if view.lstat(view.resolve(path)) is not None:
            return state.with_step(created_by, None, key, config)

        def make(staging: Path) -> None:
            target = staging / view.resolve(path).lstrip("/")
            target.mkdir(parents=True)
            for parent in [target, *target.parents]:
                if parent == staging:
                    break
                parent.chmod(0o755)
        return state.with_step(created_by, self.staged_layer(key, ins, make, vertex), key, config)

    # --- sources -----------------------------------------------------------------------------------------
    def context_tree(self) -> ContextTree:
        return ContextTree(self.request.context, self.ignore)

    def tree_of(self, line: int, name: str) -> SourceTree | None:
        """``--from=NAME`` / ``from=NAME``: the context (""), an earlier stage, or an image; None in
        the check pass when it is not built yet."""
        if not name:
            return self.context_tree()
        stage = self.plan.find(name)
        if stage is not None:
            built = self.stage_state(line, stage)
            if built is None or (self.check_only and not built.exact):
                return None
            return ImageTree(self.view(built.layers))
        image = self.image(line, name)
        if image is None:
            return None
        return ImageTree(LayerView(image.layer_dirs))

    def view(self, layers: tuple[Layer, ...]) -> LayerView:
        return LayerView([self.b.store.layer_dir(layer.diff_id) for layer in layers])

    # --- layers and the cache ----------------------------------------------------------------------------
    def from_cache(self, key: str, vertex: Vertex | None) -> CacheEntry | None:
        if self.request.no_cache:
            return None
        entry = self.b.cache.get(key)
        if entry is not None:
            self._count(cached=1)
            if vertex is not None:
                vertex.cached()
        return entry

    def staged_layer(self, key: str, ins: Instruction, fill: Callable[[Path], None], vertex: Vertex | None) -> Layer:
        """The layer of a COPY/ADD/WORKDIR step: from the cache, or filled into a staging directory."""
        entry = self.from_cache(key, vertex)
        if entry is not None and entry.layer is not None:
            return entry.layer
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
        layer = self.store_layer(digest)
        self.b.cache.put(key, CacheEntry(layer))
        return layer

    def store_layer(self, digest: str) -> Layer:
        """An uncompressed layer: its blob digest is its diff_id."""
        self.b.store.unpack(digest, digest)
        return Layer(digest, digest, self.b.store.blob_path(digest).stat().st_size)

    def count_run(self) -> None:
        self._count(ran=1)

    def _count(self, steps: int = 0, cached: int = 0, ran: int = 0) -> None:
        with self._lock:
            self.steps += steps
            self.cached += cached
            self.ran += ran

    def expand(self, line: int, text: str, env: dict[str, str]) -> str:
        return self._expand(line, text, env)

    def _expand(self, line: int, text: str, env: dict[str, str]) -> str:
        try:
            return expand(text, env, self.df.escape)
        except WordError as exc:
            raise self.df.error(line, str(exc)) from None

    def where(self, ins: Instruction) -> str:
        return f"{self.df.filename}:{ins.line}"


def _without_triggers(image: Image) -> ImageConfig:
    return dataclasses.replace(image.config, on_build=[])
