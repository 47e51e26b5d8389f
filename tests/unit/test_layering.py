"""The layering rules of docs/architecture.md, read from the source (every import, also the lazy
ones inside functions and those only for type checking):

- `runtime/` never imports `orchestrator/`;
- `orchestrator/spec` and `orchestrator/planner` are pure: no engine, no runtime, no CLI;
- the CLI and the dashboard talk to the engine only through its API client: they import neither
  the engine, the planner nor the runtime (but for three leaves of the standard library that
  define what both sides share: the run root, the session frames);
- no import circle in `orchestrator/`;
- no module reaches into another file's `_`-prefixed members;
- inside the engine, containers and networks are changed only by the executor, and published
  ports only by the publisher;
- the Engine object is known only to the wiring (daemon.py): its parts, the API's routes among
  them, are handed the narrow dependencies they use.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("orchestrator", "runtime")


@dataclass(frozen=True)
class Import:
    source: str   # the importing module
    target: str   # the imported module (a submodule when `from package import module`)
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(), str(modules()[name]))


def imports_of(name: str) -> Iterator[Import]:
    known = modules()
    package = name if modules()[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from . import x` in package a.b is a.b.x
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield Import(name, full if full in known else base, node.lineno)


def all_imports() -> list[Import]:
    return [i for name in modules() for i in imports_of(name)]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def breaks(sources: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{modules()[i.source].relative_to(REPO)}:{i.line} imports {i.target}"
            for i in all_imports()
            if any(within(i.source, s) for s in sources) and any(within(i.target, f) for f in forbidden)]


def test_the_runtime_never_imports_the_orchestrator() -> None:
    assert breaks(("runtime",), ("orchestrator",)) == []


def test_the_loader_and_the_planner_are_pure() -> None:
    assert breaks(("orchestrator.spec", "orchestrator.planner"),
                  ("orchestrator.engine", "orchestrator.cli", "orchestrator.dashboard", "runtime")) == []


# What the CLI shares with the runtime without talking to it: where the engine's socket is (the
# client must find it before any engine exists) and the frames of a terminal session (which goes
# between the CLI and the shim, without the engine). Defined once, in leaves of the standard library.
SHARED_LEAVES = {"runtime.layout", "runtime.run_root", "runtime.container.session", "runtime.container.frames"}


def test_the_cli_and_the_dashboard_know_only_the_api_client() -> None:
    found = breaks(("orchestrator.cli", "orchestrator.dashboard"),
                   ("orchestrator.engine", "orchestrator.planner", "runtime"))
    assert [b for b in found if b.rsplit(" imports ", 1)[1] not in SHARED_LEAVES] == []


def test_the_shared_leaves_import_only_the_standard_library() -> None:
    """So that sharing them cannot drag the runtime into the CLI."""
    assert [f"{i.source} imports {i.target}" for i in all_imports() if i.source in SHARED_LEAVES
            and i.target.split(".")[0] in PACKAGES and i.target not in SHARED_LEAVES] == []
    assert all(name in modules() for name in SHARED_LEAVES)


def test_no_import_circle_in_the_orchestrator() -> None:
    graph: dict[str, set[str]] = {name: set() for name in modules() if within(name, "orchestrator")}
    for i in all_imports():
        if i.source in graph and i.target in graph and i.target != i.source:
            graph[i.source].add(i.target)
    assert [" -> ".join(c) for c in circles(graph)] == []


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


# Private names of the standard library that are its public API in practice.
STDLIB_PRIVATE = {("os", "_exit"), ("hashlib", "_Hash")}


def own_privates(name: str) -> set[str]:
    """`_`-prefixed names a module defines itself (functions, classes, attributes, assignments)."""
    names = set()
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return {n for n in names if n.startswith("_")}


def test_no_module_reaches_into_another_files_private_members() -> None:
    found = []
    for name, path in modules().items():
        mine = own_privates(name)
        for node in ast.walk(tree(name)):
            if isinstance(node, ast.ImportFrom):
                found += [f"{path.relative_to(REPO)}:{node.lineno} imports {a.name} from {node.module}"
                          for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and (owner.id in ("self", "cls") or (owner.id, node.attr) in STDLIB_PRIVATE):
                continue
            if node.attr in mine:
                continue  # the same file's own class, reached through another instance of it
            found.append(f"{path.relative_to(REPO)}:{node.lineno} uses {ast.unparse(owner)}.{node.attr}")
    assert found == []


WIRING = {"orchestrator.engine.engine", "orchestrator.engine.daemon"}


def test_only_the_wiring_knows_the_engine_object() -> None:
    """Collaborators (the reconciler, the verbs, every API route group) receive the store, the
    executor, the queries... never the Engine: reaching through it was how the circles of issue 18
    came about, and it hides what a part depends on."""
    assert [f"{modules()[i.source].relative_to(REPO)}:{i.line}" for i in all_imports()
            if i.target == "orchestrator.engine.engine" and i.source not in WIRING] == []


def test_api_routes_are_handed_parts_not_the_engine() -> None:
    """Each route module's functions and methods take no parameter named or typed `engine`/`Engine`."""
    found = []
    for name in modules():
        if not (within(name, "orchestrator.engine") and (name.endswith("_api") or name.endswith(".api"))):
            continue
        for node in ast.walk(tree(name)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                    annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                    if arg.arg == "engine" or "Engine" in annotation.replace("EngineError", ""):
                        found.append(f"{modules()[name].relative_to(REPO)}:{node.lineno} {node.name}({arg.arg})")
            if isinstance(node, ast.AnnAssign) and "Engine" in ast.unparse(node.annotation).replace("EngineError", ""):
                found.append(f"{modules()[name].relative_to(REPO)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


CONTAINER_WRITES = {"create", "start", "stop", "kill", "pause", "unpause", "remove", "respawn"}
NETWORK_WRITES = {"ensure_network", "remove_network", "remove_networks", "connect", "disconnect",
                  "release_addresses"}
PORT_WRITES = {"publish", "publish_all", "unpublish", "unpublish_all"}


def writes(name: str) -> Iterator[tuple[int, str]]:
    """Calls of a write method on something named `runtime` or `network` (`self.runtime.stop(...)`)."""
    for node in ast.walk(tree(name)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else ""
        method = node.func.attr
        if owner_name == "runtime" and method in CONTAINER_WRITES:
            yield node.lineno, f"runtime.{method}"
        if owner_name == "network" and method in NETWORK_WRITES | PORT_WRITES:
            yield node.lineno, f"network.{method}"


@pytest.mark.parametrize("kind, allowed", [
    ("runtime.", "orchestrator.engine.executor"),
    ("network.", None),
])
def test_the_engine_changes_the_data_plane_through_its_doors(kind: str, allowed: str | None) -> None:
    found = []
    for name in modules():
        if not within(name, "orchestrator.engine"):
            continue
        for line, call in writes(name):
            if not call.startswith(kind):
                continue
            method = call.split(".", 1)[1]
            door = allowed if allowed is not None else (
                "orchestrator.engine.publishing" if method in PORT_WRITES else "orchestrator.engine.executor")
            if name != door:
                found.append(f"{modules()[name].relative_to(REPO)}:{line} calls {call}")
    assert found == []


def test_the_rules_see_a_break() -> None:
    """The reader finds imports inside functions and under TYPE_CHECKING, as the rules need."""
    lazy = [i for i in imports_of("orchestrator.cli.cmd_project") if i.target == "rich.table"]
    assert lazy, "a function-level import was not seen"
    assert circles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
