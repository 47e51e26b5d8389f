#!/usr/bin/env bash
# The test command of the README and of CI: set up, lint, type-check, run every test as root.
# The tests run in PYORCH_TEST_WORKERS processes (pytest-xdist, a file per worker at a time): most
# of the suite's time is spent waiting for containers, engines and timeouts, not on a CPU, and
# every test has a pyorch instance of its own (tests/conftest.py). PYORCH_TEST_WORKERS=0 runs them
# in this one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check orchestrator runtime tests bench
.venv/bin/mypy
workers="${PYORCH_TEST_WORKERS:-3}"
.venv/bin/python -m pytest -q -p no:cacheprovider -n "$workers" --dist loadfile --durations=20 "$@"
