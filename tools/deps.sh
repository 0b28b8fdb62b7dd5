#!/usr/bin/env bash
# Installs what natsedge's build and test suites need on a Debian 12 machine.
# Idempotent: packages already present are not reinstalled, npm packages are
# installed only when tests/interop/node_modules is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential clang libclang-rt-14-dev llvm
  libcmocka-dev libjsmn-dev libsnappy-dev libsodium-dev
  nats-server libnats-dev mosquitto-clients
  pkg-config ca-certificates
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Interop tests: npm packages pinned by tests/interop/package-lock.json.
if [ -f tests/interop/package-lock.json ]; then
  stamp=tests/interop/node_modules/.natsedge-stamp
  if [ ! -f "$stamp" ] || [ tests/interop/package-lock.json -nt "$stamp" ]; then
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
fi
echo "deps: ok"
