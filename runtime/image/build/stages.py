"""A parsed Dockerfile cut into stages: global ARGs, then one stage per FROM (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.image.build.errors import DockerfileError
from runtime.image.build.parser import Dockerfile, Instruction
from runtime.image.build.words import WordError, expand, split_raw

_STAGE_NAME = re.compile(r"[a-z][a-z0-9._-]*")


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None        # lower case, as Docker compares stage names
    base: str               # the FROM image, unexpanded
    platform: str | None
    line: int
    instructions: list[Instruction]


@dataclass(frozen=True)
class Plan:
    dockerfile: Dockerfile
    global_args: list[Instruction]
    stages: list[Stage]

    def find(self, name: str) -> Stage | None:
        """A stage by name (case-insensitive) or by index, as ``--from=0`` allows."""
        lowered = name.lower()
        for stage in self.stages:
            if stage.name == lowered:
                return stage
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        return None


def split_stages(dockerfile: Dockerfile) -> Plan:
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    for ins in dockerfile.instructions:
        if ins.keyword == "FROM":
            stage = _from(dockerfile, ins, len(stages))
            if stage.name and any(s.name == stage.name for s in stages):
                raise dockerfile.error(ins.line, f"duplicate stage name {stage.name!r}")
            stages.append(stage)
            current = stage.instructions
        elif current is None:
            if ins.keyword != "ARG":
                raise dockerfile.error(ins.line, f"{ins.keyword} before the first FROM (only ARG may come first)")
            global_args.append(ins)
        else:
            current.append(ins)
    if not stages:
        raise DockerfileError(dockerfile.filename, 0, "the Dockerfile has no FROM instruction")
    return Plan(dockerfile, global_args, stages)


def _from(dockerfile: Dockerfile, ins: Instruction, index: int) -> Stage:
    try:
        words = split_raw(ins.args, dockerfile.escape)
    except WordError as exc:
        raise dockerfile.error(ins.line, str(exc)) from None
    name = None
    if len(words) == 3 and words[1].lower() == "as":
        name = words[2].lower()
        if not _STAGE_NAME.fullmatch(name):
            raise dockerfile.error(ins.line, f"invalid stage name {words[2]!r}: letters, digits, '.', '_', '-', "
                                             "starting with a letter")
    elif len(words) != 1:
        raise dockerfile.error(ins.line, "FROM wants an image and optionally 'AS name'")
    return Stage(index, name, words[0], ins.flags.get("platform") or None, ins.line, [])


def select_target(plan: Plan, target: str | None) -> Stage:
    if not target:
        return plan.stages[-1]
    stage = plan.find(target)
    if stage is None or (stage.name is None and not target.isdigit()):
        names = ", ".join(s.name for s in plan.stages if s.name) or "none"
        raise DockerfileError(plan.dockerfile.filename, 0, f"target stage {target!r} not found (stages: {names})")
    return stage


def needed_stages(plan: Plan, target: Stage, global_env: dict[str, str]) -> list[Stage]:
    """The stages the target depends on (through FROM <stage>, COPY --from=<stage> and
    RUN --mount=…,from=<stage>), in file order.

    Like BuildKit, stages nothing needs are skipped. A ``from`` with a variable counts every
    earlier stage as needed.
    """
    needed: set[int] = set()

    def visit(stage: Stage) -> None:
        if stage.index in needed:
            return
        needed.add(stage.index)
        for dep in stage_dependencies(plan, stage, global_env):
            visit(plan.stages[dep])

    visit(target)
    return [s for s in plan.stages if s.index in needed]


def stage_dependencies(plan: Plan, stage: Stage, global_env: dict[str, str]) -> set[int]:
    """Indexes of the earlier stages ``stage`` reads: they must be built before it, the others may
    be built at the same time (as BuildKit runs independent stages concurrently)."""
    deps: set[int] = set()
    base = _expanded(plan, stage.line, stage.base, global_env)
    dep = plan.find(base)
    if dep is not None and dep.index < stage.index and not base.isdigit():
        deps.add(dep.index)
    for ins in stage.instructions:
        for source in stage_sources(ins):
            if "$" in source:
                deps |= {earlier.index for earlier in plan.stages[: stage.index]}
                continue
            dep = plan.find(source)
            if dep is None:
                continue  # an image
            if dep.index >= stage.index:
                raise plan.dockerfile.error(ins.line, f"{ins.keyword} --from={source}: a stage can only "
                                                      "use an earlier stage")
            deps.add(dep.index)
    return deps


def stage_sources(ins: Instruction) -> list[str]:
    """What an instruction names with ``--from`` (COPY) or a mount's ``from=`` (RUN)."""
    if ins.keyword == "COPY" and ins.flags.get("from"):
        return [ins.flags["from"]]
    if ins.keyword != "RUN":
        return []
    found = []
    for mount in ins.all("mount"):
        for option in mount.split(","):
            name, _, value = option.strip().partition("=")
            if name.lower() == "from" and value:
                found.append(value)
    return found


def _expanded(plan: Plan, line: int, word: str, env: dict[str, str]) -> str:
    try:
        return expand(word, env, plan.dockerfile.escape)
    except WordError as exc:
        raise plan.dockerfile.error(line, str(exc)) from None
