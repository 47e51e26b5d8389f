#!/usr/bin/env bash
# The example on a fresh Debian machine, as root: set up, make the Debian base image from the
# host's own mirror, build the web shop's images (apt-get in their Dockerfiles), bring it up and
# wait until it is ready, then call it through its proxy.
#   bash scripts/example.sh            compose-examples/webapp: nginx, Flask ×3, PostgreSQL, Redis
#   bash scripts/example.sh quick      compose-examples/hello-web: busybox replicas, in seconds
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PYORCH=.venv/bin/pyorch

if [ "${1:-}" = "quick" ]; then
  EXAMPLE=compose-examples/hello-web/compose.yaml
  $PYORCH image bootstrap
  $PYORCH -f "$EXAMPLE" up -d --wait
  $PYORCH -f "$EXAMPLE" ps
  port=${WEB_PORT:-8080}
  for _ in 1 2 3 4 5 6; do
    curl -fsS "http://127.0.0.1:$port/" | head -n 3
  done
else
  EXAMPLE=compose-examples/webapp/compose.yaml
  $PYORCH image bootstrap debian            # pyorch.local/debian:<codename>, cached after the first time
  $PYORCH -f "$EXAMPLE" build               # every image FROM it, packages from the host's mirror
  $PYORCH -f "$EXAMPLE" up -d --wait        # returns once the migration ran and every service is ready
  $PYORCH -f "$EXAMPLE" ps
  port=${WEB_PORT:-18580}
  for _ in 1 2 3; do
    curl -fsS "http://127.0.0.1:$port/"     # each visit: a row in PostgreSQL, a counter in Redis
    echo
  done
  echo "More: compose-examples/webapp/README.md (psql, the debug toolbox, a rolling update)"
fi
echo "Stop it with: $PYORCH -f $EXAMPLE down"
