#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for pyorch: kernel tools, base-image sources, a venv.
# Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  busybox-static   # base images made offline (pyorch.local/busybox)
  python3-minimal  # the Debian interpreter copied into pyorch.local/python
  debootstrap      # pyorch.local/debian, made from the host's Debian mirror
  tini             # tini-static: the default PID 1 of containers
  nftables python3-nftables  # libnftables and its ctypes binding (port publishing)
  python3-seccomp  # libseccomp's binding: compiles seccomp profiles to BPF
  iproute2 procps curl
  crun             # the peer runtime the start benchmark compares with
  docker-registry apache2-utils openssl  # registry tests: a local registry, htpasswd, token certs
  skopeo           # interop tests and the pull benchmark's peer
  tmux             # terminal tests: the dashboard and live `stats` driven in a real terminal
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -q
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[test]'
# Bytecode for pyorch's own modules, as installing a wheel would leave it: every CLI command starts
# ~40 ms sooner where PYTHONDONTWRITEBYTECODE keeps Python from caching it (a stale file is ignored).
.venv/bin/python -m compileall -q -j 0 orchestrator runtime >/dev/null
# Debian's libnftables binding lives in the system dist-packages; expose only that package.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn /usr/lib/python3/dist-packages/nftables "$site/nftables"
for so in /usr/lib/python3/dist-packages/seccomp.cpython-*.so; do ln -sfn "$so" "$site/"; done
.venv/bin/python -c 'import nftables, pyroute2, seccomp' >/dev/null
