#!/usr/bin/env bash
# Installs what natsedge's build and test suites need on a Debian 12 machine.
# Idempotent: packages already present are not reinstalled, npm packages are
# installed only when tests/interop/node_modules is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # `make STATIC=1` links glibc's libc.a (libc6-dev, which build-essential
  # brings) and libsodium.a (libsodium-dev).
  build-essential clang clang-format libclang-rt-14-dev llvm
  libcmocka-dev libjsmn-dev libsnappy-dev libsodium-dev
  nats-server libnats-dev mosquitto-clients
  # MQTT interop: mosquitto 2.0.11 (the MQTT 5 reference broker) and paho.
  mosquitto python3-paho-mqtt
  pkg-config ca-certificates
  dpkg-dev openssl
  # make check-man (tools/check-man.sh renders natsedge(8)).
  groff-base
  # Boards and ARM builds: Cortex-M firmware, QEMU, ARM Linux cross compilers,
  # iproute2 and procps (ip, sysctl) for the TAP board's test.
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm qemu-user
  gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu libc6-dev-armhf-cross libc6-dev-arm64-cross iproute2 procps
  # make fresh-test: a clean Debian root to run make test in.
  debootstrap git
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq || echo "deps: apt-get update reported errors (foreign architecture indexes?), trying the install anyway"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ARM Linux cross builds run their unit tests under qemu-user against the
# foreign architectures' libraries (Debian multiarch: armhf and arm64).
CROSS_PACKAGES=(
  libc6-dev:armhf libc6-dev:arm64
  libcmocka-dev:armhf libsodium-dev:armhf libsnappy-dev:armhf
  libcmocka-dev:arm64 libsodium-dev:arm64 libsnappy-dev:arm64
)
cross_missing=()
for p in "${CROSS_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || cross_missing+=("$p")
done
if [ ${#cross_missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  for arch in armhf arm64; do
    dpkg --print-foreign-architectures | grep -qx "$arch" || $SUDO dpkg --add-architecture "$arch"
  done
  echo "deps: installing ${cross_missing[*]}"
  # A mirror caught mid-sync may fail one foreign index: the install below
  # says whether what we need is there.
  $SUDO apt-get update -qq || echo "deps: apt-get update reported errors, trying the install anyway"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${cross_missing[@]}"
fi

# Source packages from Debian go into the ignored third_party/ (the Makefile
# builds them with our own configuration). They need deb-src entries: made
# once, in a file of our own, from the system's own Debian entries (the same
# mirrors and suites as its binary packages; this script names no mirror).
ensure_deb_src() {
  local SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  local src_list=/etc/apt/sources.list.d/natsedge-deb-src.sources
  if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  local entries
  entries=$(bash tools/debian-sources.sh)
  if [ -z "$entries" ]; then
    echo "deps: no Debian entry in /etc/apt/sources.list or sources.list.d to derive deb-src from;"
    echo "deps: add a deb-src line for your Debian mirror (the lwip and mbedtls source packages are needed)"
    exit 1
  fi
  echo "deps: adding $src_list (Debian source packages, from the configured mirrors)"
  echo "$entries" | awk '{
      printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n", $1, $2
      if ($3 != "-") printf "Signed-By: %s\n", $3
      printf "\n"
    }' | $SUDO tee "$src_list" >/dev/null
  # A mirror caught mid-sync fails one index (hash mismatch) but serves the
  # rest: apt-get source below says clearly if what we need is missing.
  $SUDO apt-get update -qq || echo "deps: apt-get update reported errors, trying anyway"
}

# fetch_source <package> <version glob> <dest>: the unpacked source package
# (Debian's patches applied) moved to <dest>.
fetch_source() {
  local pkg=$1 glob=$2 dest=$3
  local SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  ensure_deb_src
  echo "deps: fetching the $pkg source package into $dest"
  mkdir -p third_party
  local tmp
  tmp=$(mktemp -d third_party/.fetch.XXXXXX)
  if ! (cd "$tmp" && apt-get source -qq "$pkg" >/dev/null 2>apt-source.log); then
    # The source lists may be stale: refresh once and retry.
    $SUDO apt-get update -qq || echo "deps: apt-get update reported errors, trying anyway"
    (cd "$tmp" && apt-get source -qq "$pkg" >/dev/null) || { rm -rf "$tmp"; exit 1; }
  fi
  local dir
  dir=$(find "$tmp" -maxdepth 1 -type d -name "$glob" | head -1)
  if [ -z "$dir" ]; then
    echo "deps: the $pkg source package is not the expected version ($glob):" "$tmp"/*
    rm -rf "$tmp"
    exit 1
  fi
  rm -rf "$dest"
  mv "$dir" "$dest"
  rm -rf "$tmp"
}

# mbedTLS 2.28 (the Makefile builds it with config/mbedtls_config.h).
MBEDTLS_DEST=third_party/mbedtls
if [ ! -f "$MBEDTLS_DEST/include/mbedtls/ssl.h" ]; then
  fetch_source mbedtls 'mbedtls-2.28*' "$MBEDTLS_DEST"
fi

# lwIP 2.1.3 (the Makefile builds it per board with the board's lwipopts.h).
LWIP_DEST=third_party/lwip
if [ ! -f "$LWIP_DEST/src/include/lwip/init.h" ]; then
  fetch_source lwip 'lwip-2.1.3*' "$LWIP_DEST"
fi

# libsodium 1.0.18: the board compiles only its Ed25519 sign/verify (nkeys and
# JWT .creds of a leaf remote); Linux builds use Debian's libsodium-dev instead.
SODIUM_DEST=third_party/libsodium
if [ ! -f "$SODIUM_DEST/src/libsodium/crypto_sign/ed25519/ref10/sign.c" ]; then
  fetch_source libsodium 'libsodium-1.0.18*' "$SODIUM_DEST"
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
