"""YAML written the way Docker Compose v2 writes it (gopkg.in/yaml.v3's encoder, indent 2).

PyYAML's emitter and yaml.v3's both descend from libyaml, so the structure they write is the
same; they part on scalars, and `config` must print Compose's bytes. yaml.v3's rules, as it
applies them (checked against the v2.40.3 binary):

- printable characters are LF, U+0020-U+007E, U+00A0-U+D7FF and U+E000-U+FFFD but U+FEFF:
  the C1 controls (NEL among them) and everything beyond U+FFFF are not, so a string holding
  one is double-quoted and the character escaped (`\\N`, `\\x9F`, `\\U0001F600`);
- a tab does not force double quotes: it only rules out the plain and single-quoted styles
  (`"\\ta"` but a literal block for `"\\ta\\nb"`);
- in single quotes, a line break other than LF (U+2028, U+2029) is written as itself and the
  next line is indented only when text follows it;
- a double-quoted string that starts with a BOM has every character escaped;
- a key is written `key: value` up to 128 bytes of UTF-8 (PyYAML counts 127 characters), the
  empty key included (`"": 5`); longer or multi-line keys are written `? key`;
- a `|+` block at the end of the output is not followed by a `...` marker.

One deliberate difference: a multi-line string that starts with a tab is double-quoted. yaml.v3
writes it as a `|` block whose first line starts with a tab, which no YAML reader takes (the
block's indentation is not known yet when the tab comes: "found a tab character where an
indentation space is expected"), Compose itself included; pyorch's output must load.

Scalars whose plain form would read back as another type are double-quoted (yaml.v3's
encoder asks for that style itself); no line is ever folded (Compose's width is unlimited).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.emitter import ScalarAnalysis
from yaml.events import AliasEvent, ScalarEvent

from orchestrator.spec.goformat import Float32, format_float
from orchestrator.spec.yamlsource import Timestamp, resolve_plain

_OLD_BOOLS = frozenset("y Y yes Yes YES on On ON n N no No NO off Off OFF".split())
_BASE60_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")

_BREAKS = "\r\n\x85\u2028\u2029"
_BLANKS = " \t"
_SIMPLE_KEY_BYTES = 128
# yaml.v3's escapes in double quotes; any other escaped character is \xXX, \uXXXX or \UXXXXXXXX.
_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
            "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P"}


def is_printable(ch: str) -> bool:
    """yaml.v3's set of characters it writes unescaped (its test reads at most three UTF-8 bytes)."""
    code = ord(ch)
    return (ch == "\n" or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF))


def needs_quotes(text: str) -> bool:
    """yaml.v3 quotes a string that would read back as another type, an old YAML 1.1 boolean or a
    sexagesimal number (so YAML 1.1 readers agree)."""
    resolved = resolve_plain(text)
    if not isinstance(resolved, str) or isinstance(resolved, Timestamp):
        return True
    return text in _OLD_BOOLS or _BASE60_FLOAT.match(text) is not None


def analyze(scalar: str) -> ScalarAnalysis:
    """Which styles can write `scalar` (yaml.v3's analysis of a scalar, in PyYAML's terms)."""
    if not scalar:
        return ScalarAnalysis(scalar=scalar, empty=True, multiline=False, allow_flow_plain=False,
                              allow_block_plain=True, allow_single_quoted=True, allow_double_quoted=True,
                              allow_block=False)
    block_indicators = flow_indicators = scalar.startswith(("---", "..."))
    line_breaks = special = tabs = False
    leading_space = leading_break = trailing_space = trailing_break = False
    break_space = space_break = previous_space = previous_break = False
    preceded_by_blank = True
    last = len(scalar) - 1
    for index, ch in enumerate(scalar):
        followed_by_blank = index == last or scalar[index + 1] in _BLANKS
        if index == 0:
            if ch in "#,[]{}&*!|>'\"%@`":
                flow_indicators = block_indicators = True
            elif ch in "?:":
                flow_indicators = True
                block_indicators = block_indicators or followed_by_blank
            elif ch == "-" and followed_by_blank:
                flow_indicators = block_indicators = True
        elif ch in ",?[]{}":
            flow_indicators = True
        elif ch == ":":
            flow_indicators = True
            block_indicators = block_indicators or followed_by_blank
        elif ch == "#" and preceded_by_blank:
            flow_indicators = block_indicators = True
        if ch == "\t":
            tabs = True
        elif not is_printable(ch):
            special = True
        if ch == " ":
            leading_space = leading_space or index == 0
            trailing_space = trailing_space or index == last
            break_space = break_space or previous_break
            previous_space, previous_break = True, False
        elif ch in _BREAKS:
            line_breaks = True
            leading_break = leading_break or index == 0
            trailing_break = trailing_break or index == last
            space_break = space_break or previous_space
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
        preceded_by_blank = ch in _BLANKS or ch in _BREAKS or ch == "\0"
    plain = not (leading_space or leading_break or trailing_space or trailing_break or break_space
                 or space_break or tabs or special or line_breaks)
    return ScalarAnalysis(
        scalar=scalar, empty=False, multiline=line_breaks,
        allow_flow_plain=plain and not flow_indicators, allow_block_plain=plain and not block_indicators,
        allow_single_quoted=not (break_space or space_break or tabs or special),
        allow_double_quoted=True, allow_block=not (trailing_space or space_break or special))


class _GoDumper(yaml.SafeDumper):
    """Block style with indented sequences and no line folding, as yaml.v3 with SetIndent(2);
    a plain scalar means what yaml.v3 reads in it (so `=` stays plain and `1_000` is quoted)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            if isinstance(resolve_plain(value), Timestamp):
                return "tag:yaml.org,2002:timestamp"
            return _plain_tag(value)
        result: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        return result

    def ignore_aliases(self, data: Any) -> bool:
        return True  # yaml.v3 writes every value in full, never `&anchor` / `*alias`

    # --- the emitter's scalar rules, as yaml.v3 has them ---------------------------------------
    def analyze_scalar(self, scalar: str) -> ScalarAnalysis:
        return analyze(scalar)

    def check_simple_key(self) -> bool:
        event = self.event
        if isinstance(event, ScalarEvent):
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            return not self.analysis.multiline and len(event.value.encode()) <= _SIMPLE_KEY_BYTES
        return isinstance(event, AliasEvent) or bool(self.check_empty_sequence() or self.check_empty_mapping())

    def _write(self, text: str) -> None:
        self.column += len(text)
        self.stream.write(text)

    def _write_break(self, ch: str) -> None:
        if ch == "\n":
            self.write_line_break()
            return
        self.stream.write(ch)  # written as itself: only LF is written as the output's line break
        self.column = 0
        self.line += 1
        self.indention = True

    def write_single_quoted(self, text: str, split: bool = True) -> None:
        self.write_indicator("'", True)
        breaks = False
        for ch in text:
            if ch in _BREAKS:
                if not breaks and ch == "\n":
                    self.write_line_break()
                self._write_break(ch)
                breaks = True
                continue
            if ch == " ":
                self._write(ch)
                continue
            if breaks:
                self.write_indent()
            self._write("''" if ch == "'" else ch)
            breaks = False
        self.write_indicator("'", False)

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        self.write_indicator('"', True)
        escape_all = text.startswith("\ufeff")  # yaml.v3 tests the first character for the BOM
        out = []
        for ch in text:
            if escape_all or not is_printable(ch) or ch in _BREAKS or ch in '"\\':
                out.append("\\" + _ESCAPES[ch] if ch in _ESCAPES else _hex_escape(ch))
            else:
                out.append(ch)
        self._write("".join(out))
        self.write_indicator('"', False)

    def write_literal(self, text: str) -> None:
        super().write_literal(text)  # type: ignore[no-untyped-call]
        self.open_ended = False  # yaml.v3 writes no `...` after a kept final line break


def _hex_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if "\n" in value and value.startswith("\t"):
        style = '"'  # deliberately not Compose's `|` block, which neither yaml.v3 nor libyaml reads back
    elif "\n" in value:
        style = "|"
    elif needs_quotes(value):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_TAGS = {type(None): "null", bool: "bool", int: "int", float: "float"}


def _plain_tag(text: str) -> str:
    """The tag yaml.v3 gives `text` written plain: a float written `4` is read back as an int."""
    resolved = resolve_plain(text)
    return f"tag:yaml.org,2002:{_TAGS.get(type(resolved), 'str')}"


def _represent_float32(dumper: yaml.SafeDumper, value: Float32) -> yaml.ScalarNode:
    text = _yaml_float_text(value.value, 32)
    return dumper.represent_scalar(_plain_tag(text), text)


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    text = _yaml_float_text(value, 64)
    return dumper.represent_scalar(_plain_tag(text), text)


def _yaml_float_text(value: float, bits: int) -> str:
    text = format_float(value, bits)
    return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)


def _represent_timestamp(dumper: yaml.SafeDumper, value: Timestamp) -> yaml.ScalarNode:
    """A time yaml.v3 read (in an `x-*` value): written plain, as Go prints a time.Time."""
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", value.go_text())


def _represent_none(dumper: yaml.SafeDumper, value: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "null")


_GoDumper.add_representer(str, _represent_str)
_GoDumper.add_representer(Float32, _represent_float32)
_GoDumper.add_representer(float, _represent_float)
_GoDumper.add_representer(type(None), _represent_none)
_GoDumper.add_representer(Timestamp, _represent_timestamp)


def emit_yaml(value: Any, indent: int = 2) -> str:
    """yaml.v3's encoder (Compose sets an indent of 2; yaml.Marshal's is 4): dict order is kept
    (callers sort as Go does)."""
    text: str = yaml.dump(value, Dumper=_GoDumper, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=1 << 30, indent=indent)
    return text
