"""`pyorch config` against Docker Compose v2.40.3's `config`, project by project.

Each project of `corpus/` (written here, in the shapes real projects use) is run through both
with the same working directory, environment and arguments; the printed models must be the same
model (keys, values and key order) in YAML and in JSON, and pyorch's YAML must load in Compose
unchanged, giving Compose's own model back. Each project of `invalid/` must be refused by both,
pyorch's refusal naming the file and line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.compose_diff import harness, reference
from tests.compose_diff.harness import Case

CORPUS = harness.cases(harness.CORPUS)
INVALID = harness.cases(harness.INVALID)


def _compare(case: Case, fmt: str) -> None:
    ours, theirs = harness.run_both(case, case.config_args(fmt))
    assert theirs.code == 0, f"Compose refused {case.name}: {theirs.stderr}"
    assert ours.code == 0, f"pyorch refused {case.name}: {ours.stderr}"
    difference = harness.first_difference(harness.parse_output(ours.stdout, fmt),
                                          harness.parse_output(theirs.stdout, fmt))
    assert difference is None, f"{case.name} ({fmt}): {difference}"
    assert ours.stdout == theirs.stdout, f"{case.name} ({fmt}): same model, different text"


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_same_model_as_compose(case: Case) -> None:
    reference.require()
    for fmt in case.formats:
        _compare(case, fmt)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_no_normalize_matches_compose(case: Case) -> None:
    """`--no-normalize`: both refuse (a `default` network named but not declared) or print the same."""
    reference.require()
    ours, theirs = harness.run_both(case, [*case.args, "config", "--no-normalize", *case.services])
    assert (ours.code == 0) == (theirs.code == 0), f"{case.name}: {ours.stderr} / {theirs.stderr}"
    if ours.code == 0:
        assert ours.stdout == theirs.stdout, harness.first_difference(
            harness.parse_output(ours.stdout, "yaml"), harness.parse_output(theirs.stdout, "yaml"))


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_listings_match_compose(case: Case) -> None:
    reference.require()
    for listing in ["--services", "--volumes", "--networks", "--profiles", "--images", "--environment",
                    *case.listings]:
        ours, theirs = harness.run_both(case, [*case.args, "config", listing])
        assert (ours.code == 0) == (theirs.code == 0), f"{case.name} {listing}: {ours.stderr} / {theirs.stderr}"
        # Compose walks Go maps for some listings, so its order is not stable: compare as sets.
        assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines()), f"{case.name} {listing}"


@pytest.mark.parametrize("case", [c for c in CORPUS if "${" in "".join(
    p.read_text(errors="replace") for p in c.directory.rglob("*.y*ml"))], ids=lambda c: c.name)
def test_variables_match_compose(case: Case) -> None:
    """`--variables`: the same names, the same required ones (a variable used with two defaults
    gets either in Compose, by Go map order, so defaults are not compared; so does one used both
    with `?` and without, whose `Required` is compared only for the other variables: Compose said
    True for SET_VAR of interpolation-forms about once in 60 runs)."""
    reference.require()
    ours, theirs = harness.run_both(case, [*case.args, "config", "--variables", "--format", "json"])
    assert ours.code == 0 and theirs.code == 0, f"{ours.stderr} / {theirs.stderr}"
    mine, compose = json.loads(ours.stdout), json.loads(theirs.stdout)
    assert sorted(mine) == sorted(compose)
    either = _required_in_some_uses_only(case)
    assert ({k: v["Required"] for k, v in mine.items() if k not in either}
            == {k: v["Required"] for k, v in compose.items() if k not in either})


def _required_in_some_uses_only(case: Case) -> set[str]:
    """Variables the case's files use both as `${X?…}`/`${X:?…}` and otherwise."""
    forms: dict[str, set[bool]] = {}
    for path in case.directory.rglob("*.y*ml"):
        for match in re.finditer(r"\$\{(\w+)(:?\?)?", path.read_text(errors="replace")):
            forms.setdefault(match.group(1), set()).add(match.group(2) is not None)
    return {name for name, seen in forms.items() if len(seen) > 1}


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_output_loads_in_compose_unchanged(case: Case) -> None:
    """What pyorch prints is a Compose file Compose reads back into the model it printed itself."""
    reference.require()
    ours, theirs = harness.run_both(case, case.config_args("yaml"))
    assert ours.code == 0 and theirs.code == 0
    name = harness.parse_output(theirs.stdout, "yaml")[0][1]
    profiles = [arg for i, arg in enumerate(case.args) if "--profile" in case.args[i - 1:i + 1]]
    args = ["-f", "-", "--project-directory", str(case.workdir), "-p", name, *profiles, "config", *case.services]
    env = case.environment()
    again = harness.run_compose(args, case.workdir, env, ours.stdout)
    itself = harness.run_compose(args, case.workdir, env, theirs.stdout)
    # Compose's own output does not always load back (an optional dependency on a service the
    # profiles disabled is printed, the service is not): then pyorch's must fail the same way.
    assert (again.code == 0) == (itself.code == 0), f"{case.name}: {again.stderr} / {itself.stderr}"
    if itself.code != 0:
        return
    difference = harness.first_difference(harness.parse_output(again.stdout, "yaml"),
                                          harness.parse_output(itself.stdout, "yaml"))
    assert difference is None, f"{case.name}: {difference}"


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.name)
def test_refused_by_both_with_a_location(case: Case) -> None:
    reference.require()
    ours, theirs = harness.run_both(case, case.config_args("json"))
    assert theirs.code != 0, f"Compose accepts {case.name}"
    assert ours.code != 0, f"pyorch accepts {case.name}: {ours.stdout[:300]}"
    message = " ".join(ours.stderr.strip().split("\n"))
    message = message[message.find("error: "):]
    assert message.startswith("error: "), ours.stderr
    assert "Traceback" not in ours.stderr
    if case.note != "no file":
        located = re.match(r"error: (\S+?):(\d+):(\d+): ", message)
        assert located, f"{case.name}: no file:line in {message!r}"
        assert Path(located.group(1)).name in {p.name for p in case.directory.rglob("*")} | {"-"}
