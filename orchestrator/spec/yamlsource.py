"""Phase 1: YAML text → plain Python data plus a map of where every key and value sits.

Scalars are read as Compose's YAML library (gopkg.in/yaml.v3) reads them into `any`: `no`,
`on` and `8080:80` stay strings, `0x1F`, `0o17`, `017`, `0b101` and `1_000` are integers,
`1e3` and `08` are floats, timestamps stay text. Anchors, aliases and `<<` merge keys are
resolved, keys become strings, and `!reset` / `!override` are kept as markers for the merge
phase. Aliases are expanded under yaml.v3's budget (at most 99% of a document's nodes, falling
to 10% for very large ones, may come from aliases), so a "billion laughs" document is refused
after a few thousand nodes instead of exhausting memory. Text that is not UTF-8 or holds
characters YAML forbids (NUL among them) is refused with the line and column where it is.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestrator.spec.errors import Location, YamlSyntaxError

Path_ = tuple[str | int, ...]

RESET_TAG = "!reset"
OVERRIDE_TAG = "!override"
PLAIN_TAG = "tag:pyorch,2025:plain"  # an untagged plain scalar, resolved below as yaml.v3 does

# yaml.v3's alias budget: counted over decoded nodes, checked once 1000 nodes and 100 aliased ones.
_ALIAS_RANGE = (400_000, 4_000_000)


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
    """Every untagged plain scalar gets PLAIN_TAG; `_Builder` gives it a type as yaml.v3 would."""


YamlResolver.add_implicit_resolver(PLAIN_TAG, re.compile(r"(?s).*"), None)


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


def read_text(path: Path, label: str | None = None) -> str:
    """A file's text (a UTF-8 BOM is dropped); bytes that are not UTF-8 are refused with where they are."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(f"invalid UTF-8 (byte 0x{data[exc.start]:02x})",
                              _location_of(data, exc.start, label or str(path))) from None


def _location_of(data: bytes, offset: int, file: str) -> Location:
    before = data[:offset]
    line = before.count(b"\n") + 1
    column = len(before) - (before.rfind(b"\n") + 1) + 1
    return Location(file, line, column)


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
    except yaml.reader.ReaderError as exc:
        where = _location_of(text.encode(), len(text[:exc.position].encode()), file)
        raise YamlSyntaxError(f"invalid YAML: character {exc.character!r} is not allowed", where) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", _error_location(text, exc, file)) from None
    finally:
        if loader is not None:
            loader.dispose()
    documents = []
    for node in nodes:
        source = SourceMap(file)
        data = _Builder(source).build(node, ())
        documents.append((data, source))
    return documents


def _error_location(text: str, exc: yaml.YAMLError, file: str) -> Location:
    """libyaml's errors carry no mark object; their position is in the message ("line N, column M")."""
    found = re.search(r"line (\d+), column (\d+)", str(exc))
    if found:
        return Location(file, int(found.group(1)), int(found.group(2)))
    return Location(file, text.count("\n") + 1, 1)


def _allowed_alias_ratio(decoded: int) -> float:
    low, high = _ALIAS_RANGE
    if decoded <= low:
        return 0.99
    if decoded >= high:
        return 0.10
    return 0.99 - 0.89 * (decoded - low) / (high - low)


class _Builder:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.active: set[int] = set()
        self.seen: set[int] = set()   # nodes built once: building one again expands an alias
        self.decoded = 0
        self.aliased = 0
        self.alias_depth = 0
        self.alias_site: Path_ = ()

    def _where(self, node: Node) -> Location:
        return Location(self.source.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Node, path: Path_) -> Any:
        again = id(node) in self.seen
        self.seen.add(id(node))
        if again:
            if self.alias_depth == 0:
                self.alias_site = path  # where the outermost alias being expanded is used
            self.alias_depth += 1
        try:
            self._count(node)
            if path not in self.source.values:
                self.source.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
            if node.tag == RESET_TAG:
                return Reset()
            if node.tag == OVERRIDE_TAG:
                return Override(self._build_plain(node, path))
            return self._build_plain(node, path)
        finally:
            if again:
                self.alias_depth -= 1

    def _count(self, node: Node) -> None:
        self.decoded += 1
        if self.alias_depth > 0:
            self.aliased += 1
        if self.aliased > 100 and self.decoded > 1000 \
                and self.aliased / self.decoded > _allowed_alias_ratio(self.decoded):
            where = self.source.locate(self.alias_site, key=True) if self.alias_site else self._where(node)
            raise YamlSyntaxError("document contains excessive aliasing (alias expansion limit)", where)

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
            if key_node.tag == "tag:yaml.org,2002:merge" or (key_node.tag == PLAIN_TAG and key_node.value == "<<"):
                merge_values.append(value_node)
                continue
            key = self._key(key_node, path)
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
            sources.append(self.build(candidate, path))
        return sources

    def _key(self, node: Node, path: Path_) -> str:
        """Keys must be strings, as Compose wants them (`1:` or `true:` as a key is refused)."""
        if not isinstance(node, ScalarNode):
            raise YamlSyntaxError("mapping keys must be scalars", self._where(node))
        value = self._scalar(node)
        if not isinstance(value, str):
            where = ".".join(str(p) for p in path)
            raise YamlSyntaxError(f"non-string key {'in ' + where if where else 'at top level'}: {node.value!r}",
                                  self._where(node))
        return str(value)

    def _scalar(self, node: ScalarNode) -> Any:
        text = node.value
        tag = node.tag
        if tag == PLAIN_TAG:
            return resolve_plain(text)
        if tag in ("tag:yaml.org,2002:str", "!", RESET_TAG, OVERRIDE_TAG):
            return text
        if tag == "tag:yaml.org,2002:null":
            return None
        resolved = resolve_plain(text)
        wanted = {"tag:yaml.org,2002:bool": bool, "tag:yaml.org,2002:int": int, "tag:yaml.org,2002:float": float}
        kind = wanted.get(tag)
        if kind is float and isinstance(resolved, int) and not isinstance(resolved, bool):
            return float(resolved)
        if kind is not None and type(resolved) is kind:
            return resolved
        if kind is not None:
            raise YamlSyntaxError(f"cannot decode {text!r} as {tag.rsplit(':', 1)[-1]}", self._where(node))
        if tag == "tag:yaml.org,2002:binary":
            return self._binary(node)
        if tag == "tag:yaml.org,2002:timestamp" and go_time_text(text) is not None:
            return Timestamp(text)
        if tag.startswith("tag:yaml.org,2002:"):
            return text
        raise YamlSyntaxError(f"unsupported YAML tag {tag}", self._where(node))

    def _binary(self, node: ScalarNode) -> str:
        """`!!binary`: the bytes its base64 holds, as yaml.v3 decodes them into a string (kept as
        written when they are not UTF-8 text, which a Python string cannot hold as Go's does)."""
        try:
            # Go's decoder skips line breaks only (a folded space is invalid data, as in yaml.v3)
            data = base64.b64decode(node.value.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            raise YamlSyntaxError("!!binary value contains invalid base64 data", self._where(node)) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return str(node.value)


# --- what yaml.v3 makes of a plain scalar ----------------------------------------------------------

_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_PLAIN: dict[str, Any] = {
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


class Timestamp(str):
    """A plain scalar yaml.v3 takes for a timestamp (it parses as one of the layouts yaml.v3 tries):
    kept as its text here; printed as Go prints a `time.Time` (`go_text`)."""

    def go_text(self) -> str:
        """The time as Go prints it (the text as written, for one not made from a time layout)."""
        return go_time_text(self) or str(self)


# yaml.v3's layouts: "2006-1-2T15:4:5.999999999Z07:00" (also with `t`), "2006-1-2 15:4:5.999999999"
# (no zone: UTC) and "2006-1-2". Go reads one or two digits where the layout has one, any number
# of fraction digits (nanoseconds kept), and `Z` or `±hh:mm` for the zone.
_GO_TIME = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:(?:[Tt](?P<h1>\d{1,2}):(?P<m1>\d{1,2}):(?P<s1>\d{1,2})(?:\.(?P<f1>\d+))?(?P<zone>Z|[-+]\d{2}:\d{2}))"
    r"|(?: (?P<h2>\d{1,2}):(?P<m2>\d{1,2}):(?P<s2>\d{1,2})(?:\.(?P<f2>\d+))?))?$")


def go_time_text(text: str) -> str | None:
    """`text` as Go prints the `time.Time` yaml.v3 reads in it (RFC 3339 with nanoseconds, trailing
    zeros dropped, `Z` for a zero offset), or None when yaml.v3 would not read a time in it."""
    found = _GO_TIME.match(text)
    if found is None:
        return None
    parts = found.groupdict()
    year, month, day = int(parts["year"]), int(parts["month"]), int(parts["day"])
    hour, minute, second = (int(parts["h1"] or parts["h2"] or 0), int(parts["m1"] or parts["m2"] or 0),
                            int(parts["s1"] or parts["s2"] or 0))
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    zone = parts["zone"] or "Z"
    if zone != "Z" and (int(zone[1:3]) > 23 or int(zone[4:6]) > 59):
        return None
    if zone in ("+00:00", "-00:00"):
        zone = "Z"
    fraction = (parts["f1"] or parts["f2"] or "")[:9].rstrip("0")
    return (f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
            + (f".{fraction}" if fraction else "") + zone)


def go_parse_int(text: str) -> int | None:
    """strconv.ParseInt, then ParseUint, with base 0: a sign, 0x/0o/0b prefixes, a leading 0 for octal."""
    sign, body = 1, text
    if body[:1] in ("+", "-"):
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    base = 10
    if body[:2].lower() in ("0x", "0o", "0b"):
        base, body = {"x": 16, "o": 8, "b": 2}[body[1].lower()], body[2:]
    elif len(body) > 1 and body[0] == "0":
        base, body = 8, body[1:]
    if not body or any(c not in _DIGITS[base] for c in body):
        return None
    value = sign * int(body, base)
    if not -(1 << 63) <= value < (1 << 64):
        return None
    return value


def resolve_plain(text: str) -> Any:
    """None, bool, int, float, or the text itself (a `Timestamp` for what looks like one)."""
    if text in _SPECIAL_PLAIN:
        return _SPECIAL_PLAIN[text]
    first = text[:1]
    if first == ".":
        return float(text) if _YAML_FLOAT.match(text) else text
    if not (first.isascii() and first.isdigit()) and first not in ("+", "-"):
        return text
    if go_time_text(text) is not None:
        return Timestamp(text)
    plain = text.replace("_", "")
    number = go_parse_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.match(plain):
        return float(plain)
    return text
