"""`load_project`: Compose files → validated, merged, canonical `Project`.

The pipeline, one phase per module (compose-go's order): yamlsource (YAML, anchors, positions) →
interpolate (per file) → validate (model, long form) → paths (relative → absolute) → include →
extends → merge (multi-file, `!reset`/`!override`) → finalize (env_file, defaults, references,
profiles, warnings).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.spec import discovery, merge
from orchestrator.spec.dotenv import read_env_file
from orchestrator.spec.errors import (
    ComposeError,
    ComposeFileNotFound,
    CycleError,
    InterpolationError,
    Location,
    ProjectNameError,
    SchemaError,
)
from orchestrator.spec.finalize import finalize_project
from orchestrator.spec.interpolate import interpolate_tree
from orchestrator.spec.model import Project
from orchestrator.spec.paths import resolve_paths
from orchestrator.spec.template import MissingVariableError, Substitution, TemplateSyntaxError
from orchestrator.spec.validate import validate_file
from orchestrator.spec.yamlsource import Override, Path_, Reset, SourceMap, parse_documents, read_text

SECTIONS = ("services", "networks", "volumes", "secrets", "configs", "models")


@dataclass
class LoadOptions:
    """What the CLI knows: flags, working directory and the process environment."""

    files: list[Path] = field(default_factory=list)
    working_dir: Path = field(default_factory=lambda: Path("."))
    project_name: str | None = None
    project_directory: Path | None = None
    env_files: list[Path] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    environ: dict[str, str] = field(default_factory=dict)
    stdin_text: str | None = None
    # Services named on the command line: enabled whatever their profiles (with their dependencies).
    services: list[str] = field(default_factory=list)
    # `config SERVICE…`: the project is cut down to those services and what they depend on.
    select_services: bool = False
    # `config`: render any valid file, even one with what pyorch cannot run (volume drivers, …)
    render_only: bool = False


@dataclass
class Document:
    """One YAML document after validation: long-form data and what the merge needs to know."""

    data: dict[str, Any]
    directives: dict[Path_, str]
    source: SourceMap
    base_dir: Path   # relative paths resolve against this (the project directory)


def load_project(options: LoadOptions) -> Project:
    """Load, validate and normalise a Compose project; raise ComposeError on bad input."""
    try:
        return ProjectLoader(options).load()
    except RecursionError:
        raise ComposeError("the input is nested too deeply") from None


def _truthy(value: str, name: str) -> bool:
    """Go's strconv.ParseBool, which Compose uses for its boolean variables."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ComposeError(f"invalid boolean {value!r} in {name}")


@dataclass
class Environment:
    """The variables the files are interpolated with: the process environment, then `.env`.

    Resolved as Compose v2 resolves it: the `.env` of the working directory (the project
    directory if given, else the first `-f` file's directory, else the current one) is read first;
    `COMPOSE_FILE` may then choose the files; once they are known, the `.env` of the project
    directory is read too. A variable already set (by the shell, or by the first `.env`) keeps
    its value. Inside a `.env`, a reference to a variable the shell sets takes the shell's value.
    """

    values: dict[str, str]
    files_read: list[Path] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def read(self, paths: list[Path]) -> None:
        read: dict[str, str] = {}
        for path in paths:
            if not path.exists():
                raise ComposeFileNotFound(f"couldn't find env file: {path}")
            if path.is_dir():
                raise ComposeError(f"{path} is a directory")
            read_env_file(path, lambda k: self.values.get(k, read.get(k)), read)
            self.files_read.append(path)
        for key, value in read.items():
            self.values.setdefault(key, value)


class ProjectLoader:
    def __init__(self, options: LoadOptions) -> None:
        self.options = options
        self.working_dir = Path(os.path.abspath(options.working_dir))
        self.warnings: list[str] = []
        self.file_cache: dict[Path, list[Document]] = {}

    # --- environment and files ------------------------------------------------------------------------
    def _env_files(self, directory: Path) -> list[Path]:
        """The project's env files: --env-file (or COMPOSE_ENV_FILES), else `<directory>/.env`."""
        environ = self.options.environ
        if self.options.env_files:
            return [p if p.is_absolute() else self.working_dir / p for p in self.options.env_files]
        listed = [f for f in environ.get("COMPOSE_ENV_FILES", "").split(",") if f]
        if listed:
            return [Path(os.path.abspath(self.working_dir / f)) for f in listed]
        if "COMPOSE_DISABLE_ENV_FILE" in environ and _truthy(environ["COMPOSE_DISABLE_ENV_FILE"],
                                                             "COMPOSE_DISABLE_ENV_FILE"):
            return []
        default = directory / ".env"
        return [default] if default.is_file() else []

    def _files_from_environment(self, environment: Environment) -> list[Path]:
        value = environment.get("COMPOSE_FILE")
        if value is None:
            return []
        separator = environment.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        files = []
        for item in value.split(separator):
            if item == "-":
                files.append(discovery.STDIN)
                continue
            path = Path(os.path.abspath(self.working_dir / item))
            if not path.exists():
                raise ComposeFileNotFound(f"COMPOSE_FILE names {item!r}, which does not exist ({path})")
            files.append(path)
        return files

    def resolve_inputs(self) -> tuple[list[Path], Path, Environment]:
        """Which files, which project directory, which variables: Compose v2's order of steps."""
        opts = self.options
        environ = dict(opts.environ)
        environ.setdefault("PWD", str(self.working_dir))
        explicit_dir = Path(os.path.abspath(self.working_dir / opts.project_directory)) \
            if opts.project_directory else None
        files = [f if f == discovery.STDIN or f.is_absolute() else self.working_dir / f for f in opts.files]

        def directory_of(candidates: list[Path]) -> Path:
            first = next((f for f in candidates if f != discovery.STDIN), None)
            return explicit_dir or (Path(os.path.abspath(first)).parent if first else self.working_dir)

        environment = Environment(environ)
        environment.read(self._env_files(directory_of(files)))
        if not files:
            files = self._files_from_environment(environment)
        if not files:
            files = discovery.discover_files(self.working_dir)
            ambiguity = discovery.ambiguous_default_warning(files)
            if ambiguity:
                self.warnings.append(ambiguity)
        project_dir = directory_of(files)
        second = [p for p in self._env_files(project_dir) if p not in environment.files_read]
        environment.read(second)
        return files, project_dir, environment

    def load(self) -> Project:
        opts = self.options
        files, project_dir, environment_values = self.resolve_inputs()
        environment = environment_values.values
        raw_docs = [doc for f in files for doc in self.parse(f)]
        if not any(data for data, _, _ in raw_docs):
            source = raw_docs[0][2] if raw_docs else SourceMap("-")
            raise SchemaError("empty compose file", Location(source.file, 1, 1))
        file_name, name_at = self._name_from_files(raw_docs, environment)
        named_by_file = file_name is not None and not opts.project_name and not environment.get("COMPOSE_PROJECT_NAME")
        if named_by_file and not file_name:  # `name: ${UNSET}`; a literal `name: ""` counts as no name
            raise ProjectNameError("project name must not be empty", name_at)
        try:
            name = discovery.choose_project_name(opts.project_name, environment, file_name, project_dir)
        except ProjectNameError as exc:
            raise ProjectNameError(exc.message, name_at if named_by_file else None) from None
        environment["COMPOSE_PROJECT_NAME"] = name
        documents = [self._prepare(data, directives, source, project_dir, environment, [])
                     for data, directives, source in raw_docs]
        merged = merge_documents(documents)
        profiles = opts.profiles or [p.strip() for p in environment.get("COMPOSE_PROFILES", "").split(",")]
        return finalize_project(name, project_dir, merged, [d.source for d in documents], environment, profiles,
                                opts.services, self.warnings, select=opts.select_services,
                                check_support=not opts.render_only,
                                raw_name=file_name if named_by_file else None)

    def parse(self, file: Path) -> list[tuple[Any, dict[Path_, str], SourceMap]]:
        if file == discovery.STDIN:
            text, label = self.options.stdin_text or "", "-"
        else:
            label = str(file)
            try:
                text = read_text(file)
            except OSError as exc:
                raise ComposeFileNotFound(f"cannot read Compose file {file}: {exc.strerror or exc}") from None
        out = []
        for data, source in parse_documents(text, label):
            directives: dict[Path_, str] = {}
            out.append((strip_directives(data, (), directives), directives, source))
        if not out:
            out.append(({}, {}, SourceMap(label)))
        return out

    def _name_from_files(self, docs: list[tuple[Any, dict[Path_, str], SourceMap]],
                         environment: dict[str, str]) -> tuple[str | None, Location | None]:
        """Top-level `name:` of the last file that sets it, interpolated on its own, and where it is."""
        name, where = None, None
        for data, _, source in docs:
            if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"]:
                where = source.locate(("name",))
                try:
                    name = Substitution(environment).expand(data["name"])
                except (MissingVariableError, TemplateSyntaxError) as exc:
                    raise InterpolationError(f"name: {exc}", where) from None
        return name, where

    # --- one document ---------------------------------------------------------------------------------
    def _prepare(self, data: Any, directives: dict[Path_, str], source: SourceMap, base_dir: Path,
                 environment: dict[str, str], include_stack: list[Path], apply_extends: bool = True) -> Document:
        interpolated = interpolate_tree(data, environment, source, self.warnings)
        canonical = validate_file(interpolated, source)
        if "version" in canonical:
            message = "the attribute `version` is obsolete, it will be ignored, please remove it"
            if message not in self.warnings:
                self.warnings.append(message)
        resolve_paths(canonical, base_dir, self.options.environ.get("HOME"))
        document = Document(canonical, directives, source, base_dir)
        self._apply_includes(document, environment, include_stack)
        if apply_extends:
            self._apply_extends(document, environment)
        return document

    def _load_other_file(self, path: Path, environment: dict[str, str], at: Location) -> list[Document]:
        key = Path(os.path.abspath(path))
        if key not in self.file_cache:
            if not key.is_file():
                raise ComposeFileNotFound(f"cannot find extended file {path}", at)
            # Extends inside that file are resolved lazily by `_extended`, which sees cycles across files.
            self.file_cache[key] = [self._prepare(d, dirs, src, key.parent, environment, [], apply_extends=False)
                                    for d, dirs, src in self.parse(key)]
        return self.file_cache[key]

    # --- extends --------------------------------------------------------------------------------------
    def _apply_extends(self, document: Document, environment: dict[str, str]) -> None:
        services = document.data.get("services") or {}
        for name in list(services):
            services[name] = self._extended(document, name, environment, [])

    def _extended(self, document: Document, name: str, environment: dict[str, str],
                  chain: list[tuple[str, str]]) -> dict[str, Any]:
        services = document.data.get("services") or {}
        service = services[name]
        spec = service.get("extends")
        if not spec:
            return dict(service)
        link = (document.source.file, name)
        at = document.source.locate(("services", name, "extends"))
        if link in chain:
            here = document.source.file
            cycle = " -> ".join(s if f == here else f"{s} ({os.path.basename(f)})" for f, s in [*chain, link])
            raise CycleError(f"extends cycle: {cycle}", at)
        base_name = spec["service"]
        if spec.get("file"):
            base_path = Path(spec["file"])
            docs = self._load_other_file(base_path, environment, at)
            base_doc = next((d for d in docs if base_name in (d.data.get("services") or {})), None)
        else:
            base_doc = document if base_name in services else None
        if base_doc is None:
            where = f" in {spec['file']}" if spec.get("file") else ""
            raise ComposeError(f"service {name!r} extends undefined service {base_name!r}{where}", at)
        base = self._extended(base_doc, base_name, environment, [*chain, link])
        base.pop("extends", None)
        local = {k: v for k, v in service.items() if k != "extends"}
        relative = {p[2:]: d for p, d in document.directives.items() if p[:2] == ("services", name) and len(p) > 2}
        return merge.merge_service(base, local, relative)

    # --- include --------------------------------------------------------------------------------------
    def _apply_includes(self, document: Document, environment: dict[str, str], stack: list[Path]) -> None:
        """Each `include` entry is a project of its own, loaded and merged on its own, then its
        resources are copied in. As in Compose, its paths, `project_directory` and `env_file` are
        relative to the including project's directory; its own variables come from its `env_file`
        or its directory's `.env`, under the including project's (which win)."""
        includes = document.data.pop("include", None) or []
        for index, entry in enumerate(includes):
            at = document.source.locate(("include", index))
            paths = [Path(os.path.normpath(document.base_dir / p)) for p in entry["path"]]
            for p in paths:
                if not p.is_file():
                    raise ComposeFileNotFound(f"included file {p} not found", at)
            key = paths[0]
            if key in stack or key == Path(os.path.abspath(document.source.file)):
                chain = [*stack, Path(os.path.abspath(document.source.file)), key]
                raise CycleError(f"include cycle: {' -> '.join(str(s) for s in chain)}", at)
            project_dir = Path(os.path.normpath(document.base_dir / entry["project_directory"])) \
                if entry.get("project_directory") else key.parent
            env_files = [Path(os.path.normpath(document.base_dir / f)) for f in entry.get("env_file") or []]
            if not env_files and (project_dir / ".env").is_file():
                env_files = [project_dir / ".env"]
            own: dict[str, str] = {}
            lookup = _chained(environment, own)
            for f in env_files:
                if not f.is_file():
                    raise ComposeFileNotFound(f"couldn't find env file: {f}", at)
                read_env_file(f, lookup, own)
            sub_environment = {**own, **environment}
            docs = [self._prepare(d, dirs, src, project_dir, sub_environment,
                                  [*stack, Path(os.path.abspath(document.source.file))])
                    for f in paths for d, dirs, src in self.parse(f)]
            included = merge_documents(docs)
            _import_resources(document, included, at)


def _chained(first: dict[str, str], then: dict[str, str]) -> Callable[[str], str | None]:
    """A lookup in ``first``, then in ``then`` (which may still grow)."""
    def lookup(name: str) -> str | None:
        value = first.get(name)
        return value if value is not None else then.get(name)
    return lookup


def _import_resources(document: Document, included: dict[str, Any], at: Location) -> None:
    """Copy an included project's resources in; a name defined on both sides differently is an error."""
    for section in SECTIONS:
        theirs = included.get(section) or {}
        if not theirs:
            continue
        ours = document.data.setdefault(section, {})
        for name, body in theirs.items():
            if name in ours and ours[name] != body:
                raise ComposeError(f"{section[:-1]} {name!r} is defined both here and in an included file", at)
            ours[name] = body


def strip_directives(value: Any, path: Path_, directives: dict[Path_, str]) -> Any:
    """Remove `!reset` entries and unwrap `!override`, remembering both by path."""
    if isinstance(value, Reset):
        directives[path] = "reset"
        return None
    if isinstance(value, Override):
        directives[path] = "override"
        return strip_directives(value.value, path, directives)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            stripped = strip_directives(v, (*path, k), directives)
            if not isinstance(v, Reset):
                out[k] = stripped
        return out
    if isinstance(value, list):
        return [strip_directives(v, (*path, i), directives) for i, v in enumerate(value) if not isinstance(v, Reset)]
    return value


def merge_documents(documents: list[Document]) -> dict[str, Any]:
    """Multi-file merge: later documents override earlier ones, section by section."""
    result: dict[str, Any] = {}
    for document in documents:
        for key, value in document.data.items():
            if key in SECTIONS:
                section = result.setdefault(key, {})
                for name, body in (value or {}).items():
                    relative = {p[2:]: d for p, d in document.directives.items()
                                if p[:2] == (key, name) and len(p) > 2}
                    if name in section and document.directives.get((key, name)) != "override":
                        section[name] = merge.merge_service(section[name], body, relative)
                    else:
                        section[name] = merge.merge_service({}, body, relative)
            else:
                result[key] = value
        for path, directive in document.directives.items():
            if directive == "reset":
                merge.remove_path(result, path)
    return result
