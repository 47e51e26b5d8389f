"""Property-based: strings of every awkward kind are written byte for byte as Compose writes them.

`x-*` values are printed as the files hold them, so they carry any text to both programs: line
breaks of every kind (LF, CR, NEL, U+2028/9), tabs, C0 and C1 controls, a BOM, no-break spaces,
characters beyond U+FFFF, quotes, backslashes, YAML indicators and words that read as other
types, long keys. Both outputs (YAML and JSON) must be the same bytes, and what pyorch prints
must load back (in pyorch) into the same values.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.spec.errors import YamlSyntaxError
from orchestrator.spec.goyaml import emit_yaml
from orchestrator.spec.yamlsource import parse_documents
from tests.compose_diff import harness, reference

EXAMPLES = int(os.environ.get("COMPOSE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="COMPOSE_FUZZ_RANDOM" not in os.environ,
                database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# `$` is left out: Compose interpolates x-* values, which the other fuzz test covers.
ALPHABET = ["a", "b", "é", " ", "  ", "\n", "\t", "\r", "\x85", "\u2028", "\u2029", "\ufeff", "\xa0", "\x01",
            "\x1b", "\x7f", "\x9f", "\U0001f600", "\ue000", "'", '"', "\\", "#", ":", ": ", "- ", "-", "?", "{",
            "}", "[", ",", "&", "*", "!", "|", ">", "%", "@", "`", ".", "...", "---", "0", "1.5", "y", "~",
            "null", "true", "0x1F", "1:20"]
texts = st.lists(st.sampled_from(ALPHABET), max_size=8).map("".join)
keys = st.one_of(texts, st.integers(120, 135).map(lambda n: "k" * n), st.integers(60, 68).map(lambda n: "é" * n))
values = st.dictionaries(st.sampled_from([f"x-{i}" for i in range(8)]), st.one_of(
    texts, st.lists(texts, max_size=3), st.dictionaries(keys, texts, max_size=4)), min_size=1, max_size=6)


def _json_document(extensions: dict[str, object]) -> str:
    """The project as JSON (a YAML subset both read); characters beyond U+FFFF are written as
    themselves, since yaml.v3 does not join the escaped halves of a surrogate pair; line breaks
    and controls are escaped, so that the file holds exactly these strings."""
    text = json.dumps({"services": {"web": {"image": "busybox"}}, **extensions}, ensure_ascii=False)
    return "".join(json.dumps(ch)[1:-1] if (ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\ufeff\u2028\u2029") else ch
                   for ch in text)


def _unreadable(text: str) -> bool:
    try:
        parse_documents(text, "<compose>")
    except YamlSyntaxError as exc:
        return "tab character" in str(exc)
    return False


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in [k, *_strings(v)]]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def _tab_block(text: str) -> bool:
    return text.startswith("\t") and "\n" in text


def test_a_multiline_string_starting_with_a_tab_loads_back() -> None:
    """The one place pyorch's YAML leaves Compose's: Compose's `|` block here does not load."""
    text = emit_yaml({"x": "\ta\nb"})
    assert text == 'x: "\\ta\\nb"\n'
    assert parse_documents(text, "-")[0][0] == {"x": "\ta\nb"}


@FUZZ
@given(values)
def test_strings_print_as_compose_prints_them(extensions: dict[str, object]) -> None:
    reference.require()
    directory = Path(tempfile.mkdtemp(prefix="scalars-", dir=tempfile.gettempdir()))
    try:
        (directory / "compose.yaml").write_text(_json_document(extensions))
        env = {"PATH": "/usr/bin:/bin", "HOME": harness.HOME, "PWD": str(directory)}
        for fmt in ("yaml", "json"):
            args = ["config", "--format", fmt]
            ours, theirs = harness.run_pyorch(args, directory, env), harness.run_compose(args, directory, env)
            assert theirs.code == 0, theirs.stderr
            assert ours.code == 0, ours.stderr
            if fmt == "yaml":  # what pyorch prints loads back into the values the file holds
                printed = parse_documents(ours.stdout, "<output>")[0][0]
                assert {k: printed[k] for k in extensions} == extensions
                if _unreadable(theirs.stdout):
                    # Compose writes a `|` block starting with a tab, which no reader takes, itself
                    # included: pyorch double-quotes that string (goyaml's docstring).
                    assert any(_tab_block(v) for v in _strings(extensions)), theirs.stdout
                    continue
            assert ours.stdout == theirs.stdout, harness.first_difference(
                harness.parse_output(ours.stdout, fmt), harness.parse_output(theirs.stdout, fmt))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
