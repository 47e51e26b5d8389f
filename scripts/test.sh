#!/usr/bin/env bash
# The test command of the README and of CI: set up, lint, type-check, run every test as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check orchestrator runtime tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
