#!/usr/bin/env bash
# The flagship example on a fresh machine: set up, make base images offline, bring it up, call it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PYORCH=.venv/bin/pyorch
EXAMPLE=compose-examples/hello-web/compose.yaml
$PYORCH image bootstrap
$PYORCH -f "$EXAMPLE" up -d
$PYORCH -f "$EXAMPLE" ps
port=${WEB_PORT:-8080}
for i in 1 2 3 4 5 6; do
  curl -fsS "http://127.0.0.1:$port/" | head -n 3
done
echo "Stop it with: $PYORCH -f $EXAMPLE down"
