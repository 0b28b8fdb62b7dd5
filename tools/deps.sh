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
  dpkg-dev openssl
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

# mbedTLS 2.28 from Debian's source package, into the ignored third_party/
# (the Makefile builds it with config/mbedtls_config.h). Needs a deb-src
# entry for the configured Debian mirror: added once, in a file of our own.
MBEDTLS_DEST=third_party/mbedtls
if [ ! -f "$MBEDTLS_DEST/include/mbedtls/ssl.h" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  src_list=/etc/apt/sources.list.d/natsedge-deb-src.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    echo "deps: adding $src_list (Debian source packages)"
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    $SUDO tee "$src_list" >/dev/null <<EOS
Types: deb-src
URIs: $uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
    $SUDO apt-get update -qq
  fi
  echo "deps: fetching the mbedtls source package into $MBEDTLS_DEST"
  mkdir -p third_party
  tmp=$(mktemp -d third_party/.fetch.XXXXXX)
  if ! (cd "$tmp" && apt-get source -qq mbedtls >/dev/null 2>apt-source.log); then
    # The source lists may be stale: refresh once and retry.
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get source -qq mbedtls >/dev/null) || { rm -rf "$tmp"; exit 1; }
  fi
  dir=$(find "$tmp" -maxdepth 1 -type d -name 'mbedtls-2.28*' | head -1)
  if [ -z "$dir" ]; then
    echo "deps: the mbedtls source package is not version 2.28:" "$tmp"/*
    rm -rf "$tmp"
    exit 1
  fi
  rm -rf "$MBEDTLS_DEST"
  mv "$dir" "$MBEDTLS_DEST"
  rm -rf "$tmp"
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
