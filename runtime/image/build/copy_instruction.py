"""The COPY and ADD instructions: where their sources come from, their cache key, their layer.

Sources are the build context (minus .dockerignore), an earlier stage or an image (``--from``),
the instruction's heredocs (``COPY <<EOF /etc/motd``: a file per heredoc, named after it, mode
0644, variables substituted unless the delimiter is quoted), or, for ADD, HTTP(S) URLs
(`fetch.py`). ``--chown`` names come from the stage's own /etc/passwd and /etc/group. The key is
the content hash of what is copied (never mtimes); with ``--link`` it leaves out everything below
the step, so the layer is reused whatever came before.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.image.build import metadata
from runtime.image.build.cache import chain
from runtime.image.build.copy_step import GIT_PREFIXES, URL_PREFIXES, fill_staging, plan_copy
from runtime.image.build.dockerignore import DockerIgnore
from runtime.image.build.errors import BuildError
from runtime.image.build.fetch import check_checksum, download, file_name
from runtime.image.build.parser import Instruction
from runtime.image.build.progress import Vertex
from runtime.image.build.sources import ContextTree, Ownership, SourceTree
from runtime.image.build.state import StageState
from runtime.image.build.view import LayerView
from runtime.image.build.words import WordError, expand_heredoc

if TYPE_CHECKING:
    from runtime.image.build.run import BuildRun


def copy_step(run: BuildRun, ins: Instruction, state: StageState, vertex: Vertex | None) -> StageState:
    env = state.config.env()
    items = ins.exec_form if ins.exec_form is not None else metadata.words(run.df, ins, env)
    if len(items) < 2 and not (ins.heredocs and items):
        raise run.df.error(ins.line, f"{ins.keyword} wants at least one source and a destination")
    *patterns, dest = items
    link = ins.flags.get("link") == "true"
    parents = ins.flags.get("parents") == "true"
    excludes = tuple(run.expand(ins.line, e, env) for e in ins.all("exclude"))
    owner = _ownership(run, ins, state, env)
    created_by = f"{ins.keyword} {ins.args}"
    known = _checksummed_key(run, ins, state, patterns, dest, owner, env)
    if known is not None and not run.check_only:
        entry = run.from_cache(known, vertex)  # the checksum names the content: no download needed
        if entry is not None and entry.layer is not None:
            return state.with_step(created_by, entry.layer, known)
    with _sources(run, ins, patterns, env) as found:
        if found is None:  # check pass: the stage it copies from is not built yet
            return dataclasses.replace(state.with_step(created_by, None, ""), exact=False)
        tree, names, remote = found
        view = LayerView([]) if link else run.view(state.layers)
        try:
            plan = plan_copy(tree, names, dest, state.config.image.working_dir, view, ins.keyword, parents, excludes)
            if remote:
                plan = dataclasses.replace(plan, extract=False)  # a downloaded archive stays packed, as Docker
            digest = plan.fingerprint(tree, owner)
        except BuildError as exc:
            raise run.df.error(ins.line, str(exc)) from None
        described = json.dumps([ins.keyword, {k: v for k, v in ins.flags.items() if k != "checksum"},
                                plan.destination, plan.into_directory, digest, remote])
        # --link: the layer's own key does not chain the steps below it, so it survives their changes.
        layer_key = chain("link", described) if link else (known or chain(state.key, described))
        key = known or chain(state.key, described)
        if run.check_only:  # no layer made: the stage's files are not known exactly from here
            return dataclasses.replace(state.with_step(created_by, None, key), exact=False)
        layer = run.staged_layer(layer_key, ins, lambda staging: fill_staging(plan, tree, view, staging, owner),
                                 vertex)
        return state.with_step(created_by, layer, key)


def _checksummed_key(run: BuildRun, ins: Instruction, state: StageState, patterns: list[str], dest: str,
                     owner: Ownership, env: dict[str, str]) -> str | None:
    """The key of ``ADD --checksum=… <url>``, known before anything is downloaded."""
    if ins.keyword != "ADD" or "checksum" not in ins.flags or not patterns \
            or not all(p.startswith(URL_PREFIXES) for p in patterns):
        return None
    checksum = run.expand(ins.line, ins.flags["checksum"], env)
    return chain(state.key, json.dumps(["ADD", patterns, checksum, dest, state.config.image.working_dir,
                                        [owner.uid, owner.gid, owner.mode], ins.flags.get("link")]))


@contextlib.contextmanager
def _sources(run: BuildRun, ins: Instruction, patterns: list[str], env: dict[str, str],
             ) -> Iterator[tuple[SourceTree, list[str], bool] | None]:
    """(the tree to copy from, the patterns in it, whether they were downloaded), or None in the
    check pass for a stage not built yet."""
    heredoc_names = {doc.name for doc in ins.heredocs}
    if heredoc_names and any(_heredoc_name(p) in heredoc_names for p in patterns):
        with tempfile.TemporaryDirectory(dir=run.b.store.root, prefix=".build-heredoc-") as scratch:
            yield _heredoc_tree(run, ins, Path(scratch), env), [_heredoc_name(p) for p in patterns], False
        return
    urls = [p for p in patterns if p.startswith(URL_PREFIXES)]
    for pattern in patterns:
        if ins.keyword == "ADD" and (pattern.startswith(GIT_PREFIXES) or pattern.endswith(".git")):
            raise run.df.error(ins.line, f"ADD {pattern}: git sources are not supported; clone in a RUN step "
                                         "or into the context")
        if ins.keyword == "COPY" and ("://" in pattern):
            raise run.df.error(ins.line, f"COPY {pattern}: COPY takes no URLs (ADD downloads them)")
    checksum = ins.flags.get("checksum")
    if checksum is not None:
        if not urls or len(urls) != len(patterns):
            raise run.df.error(ins.line, "ADD --checksum is only for HTTP(S) sources")
        try:
            checksum = check_checksum(run.expand(ins.line, checksum, env))
        except BuildError as exc:
            raise run.df.error(ins.line, str(exc)) from None
    if urls:
        if len(urls) != len(patterns):
            raise run.df.error(ins.line, "ADD cannot mix URLs and local sources in one instruction")
        if ins.flags.get("from"):
            raise run.df.error(ins.line, "ADD of a URL takes no --from")
        if run.check_only:
            yield None
            return
        with tempfile.TemporaryDirectory(dir=run.b.store.root, prefix=".build-download-") as scratch:
            names = []
            for url in urls:
                name = file_name(url)
                try:
                    download(url, Path(scratch), name, checksum)
                except BuildError as exc:
                    raise run.df.error(ins.line, str(exc)) from None
                names.append(name)
            yield ContextTree(Path(scratch), DockerIgnore([])), names, True
        return
    source = ins.flags.get("from")
    tree = run.tree_of(ins.line, run.expand(ins.line, source, env)) if source else run.context_tree()
    yield None if tree is None else (tree, patterns, False)


def _heredoc_name(pattern: str) -> str:
    return pattern.lstrip("<").lstrip("-").strip("'\"")


def _heredoc_tree(run: BuildRun, ins: Instruction, scratch: Path, env: dict[str, str]) -> SourceTree:
    for doc in ins.heredocs:
        try:
            body = expand_heredoc(doc.body, env, run.df.escape) if doc.expand else doc.body
        except WordError as exc:
            raise run.df.error(ins.line, str(exc)) from None
        path = scratch / doc.name
        path.write_text(body)
        os.chmod(path, 0o644)
    return ContextTree(scratch, DockerIgnore([]))


def _ownership(run: BuildRun, ins: Instruction, state: StageState, env: dict[str, str]) -> Ownership:
    mode = None
    if "chmod" in ins.flags:
        text = run.expand(ins.line, ins.flags["chmod"], env)
        if not text or any(c not in "01234567" for c in text) or int(text, 8) > 0o7777:
            raise run.df.error(ins.line, f"--chmod={text!r}: want an octal mode like 755 or 0644")
        mode = int(text, 8)
    if "chown" not in ins.flags:
        return Ownership(mode=mode)
    spec = run.expand(ins.line, ins.flags["chown"], env)
    user, _, group = spec.partition(":")
    if not user:
        raise run.df.error(ins.line, f"--chown={spec!r}: want user[:group]")
    view = run.view(state.layers)
    uid = _lookup_id(run, ins, view, "/etc/passwd", user, state.exact)
    gid = _lookup_id(run, ins, view, "/etc/group", group, state.exact) if group else uid
    return Ownership(uid, gid, mode)


def _lookup_id(run: BuildRun, ins: Instruction, view: LayerView, path: str, name: str, exact: bool) -> int:
    """A user or group name as the stage's own /etc files say; in the check pass the stage's files
    are only known up to its first layer step (a RUN may add the user), so the lookup waits."""
    if name.isdigit():
        return int(name)
    if run.check_only and (not exact or not view.layers):
        return 0
    for line in (view.read_text(path) or "").splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    raise run.df.error(ins.line, f"--chown: no {'user' if 'passwd' in path else 'group'} {name!r} in the "
                                 f"image's {path}")
