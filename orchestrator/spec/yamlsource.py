"""Phase 1: YAML text → plain Python data plus a map of where every key and value sits.

Follows YAML 1.2 core scalars as compose-go does (so `no`, `on` and `8080:80` stay strings),
resolves anchors, aliases and `<<` merge keys, turns keys into strings, and keeps `!reset` and
`!override` as markers for the merge phase. Aliases are expanded with a budget so that a
"billion laughs" document is refused instead of exhausting memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestrator.spec.errors import Location, YamlSyntaxError

Path_ = tuple[str | int, ...]

RESET_TAG = "!reset"
OVERRIDE_TAG = "!override"
MAX_EXPANDED_NODES = 1_000_000


@dataclass(frozen=True)
class Reset:
    """`!reset`: remove the attribute inherited from earlier files or from `extends`."""


@dataclass(frozen=True)
class Override:
    """`!override value`: replace the inherited attribute instead of merging into it."""

    value: Any


@dataclass
class SourceMap:
    """Positions of keys and values in one file, by path from the document root."""

    file: str
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path_, key: bool = False) -> Location:
        """The deepest known position along `path` (falls back to shorter prefixes)."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            where = table.get(prefix) or self.keys.get(prefix) or self.values.get(prefix)
            if where is not None:
                return Location(self.file, where[0], where[1])
        return Location(self.file)


class YamlResolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core schema."""


YamlResolver.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                list("tTfF"))
YamlResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
YamlResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
YamlResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
YamlResolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])

try:
    from yaml._yaml import CParser as _CParser
    _BaseParser: Any = _CParser
except ImportError:  # pragma: no cover - libyaml is normally present
    _BaseParser = None
if _BaseParser is not None:
    class _Loader(_BaseParser, YamlResolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            _BaseParser.__init__(self, stream)
            YamlResolver.__init__(self)
else:  # pragma: no cover - libyaml is normally present
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, Composer, YamlResolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            YamlResolver.__init__(self)


def parse_documents(text: str, file: str) -> list[tuple[Any, SourceMap]]:
    """Every YAML document of `text` as (data, positions); empty documents are skipped."""
    loader: Any = None
    try:
        loader = _Loader(text)
        nodes: list[Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise YamlSyntaxError(f"invalid YAML: {exc.problem or exc.context}", where) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", Location(file)) from None
    finally:
        if loader is not None:
            loader.dispose()
    documents = []
    for node in nodes:
        source = SourceMap(file)
        data = _Builder(source).build(node, ())
        documents.append((data, source))
    return documents


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.budget = MAX_EXPANDED_NODES
        self.active: set[int] = set()

    def _where(self, node: Node) -> Location:
        return Location(self.source.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Node, path: Path_) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise YamlSyntaxError("document too large after expanding aliases", self._where(node))
        if path not in self.source.values:
            self.source.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag == RESET_TAG:
            return Reset()
        if node.tag == OVERRIDE_TAG:
            return Override(self._build_plain(node, path))
        return self._build_plain(node, path)

    def _build_plain(self, node: Node, path: Path_) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self.active:
            raise YamlSyntaxError("recursive alias", self._where(node))
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        raise YamlSyntaxError(f"unsupported YAML node {node.tag}", self._where(node))

    def _mapping(self, node: MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merge_values: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merge_values.append(value_node)
                continue
            key = self._key(key_node)
            if key in result:
                raise YamlSyntaxError(f"duplicate key {key!r}", self._where(key_node))
            self.source.keys.setdefault((*path, key), (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
            result[key] = self.build(value_node, (*path, key))
        # Merged-in entries come last so that positions of keys written here win over the anchor's.
        for value_node in merge_values:
            for source in self._merge_sources(value_node, path):
                for k, v in source.items():
                    result.setdefault(k, v)
        return result

    def _merge_sources(self, node: Node, path: Path_) -> list[dict[str, Any]]:
        """`<<: *a` or `<<: [*a, *b]`; earlier sources win over later ones."""
        candidates = node.value if isinstance(node, SequenceNode) else [node]
        sources = []
        for candidate in candidates:
            if not isinstance(candidate, MappingNode):
                raise YamlSyntaxError("a merge key '<<' needs a mapping or a list of mappings", self._where(candidate))
            sources.append(self._build_plain(candidate, path))
        return sources

    def _key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise YamlSyntaxError("mapping keys must be scalars", self._where(node))
        value = self._scalar(node)
        if value is None:
            return "null" if node.value else ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if not isinstance(value, str) else value

    def _scalar(self, node: ScalarNode) -> Any:
        text = node.value
        tag = node.tag
        try:
            if tag == "tag:yaml.org,2002:null":
                return None
            if tag == "tag:yaml.org,2002:bool":
                return text.lower() == "true"
            if tag == "tag:yaml.org,2002:int":
                if text.startswith("0o"):
                    return int(text[2:], 8)
                if re.fullmatch(r"[-+]?0[0-7]+", text):  # YAML 1.1 octal, as yaml.v3 (and file modes) read it
                    return int(text, 8)
                return int(text, 0) if text.startswith("0x") else int(text, 10)
            if tag == "tag:yaml.org,2002:float":
                return float(text.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf")
                             .replace(".nan", "nan").replace(".NaN", "nan").replace(".NAN", "nan"))
        except ValueError:
            raise YamlSyntaxError(f"invalid {tag.rsplit(':', 1)[-1]} {text!r}", self._where(node)) from None
        if tag in ("tag:yaml.org,2002:str", "!", RESET_TAG, OVERRIDE_TAG) or tag.startswith("tag:yaml.org,2002:"):
            return text
        raise YamlSyntaxError(f"unsupported YAML tag {tag}", self._where(node))
