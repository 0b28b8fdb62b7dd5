#!/usr/bin/env bash
# make fresh-test: runs `make test` on a clean clone inside a minimal Debian
# root, so a missing install step in tools/deps.sh shows here before it
# reaches a user. The root holds Debian's base system (debootstrap from this
# machine's configured Debian mirror) plus what a fresh machine of ours has
# besides Debian: node and npm, and the machine's npm settings and CA
# bundle. Everything else must be installed by `make test` itself.
#
# The clone is of the repository's committed HEAD: uncommitted changes are not
# tested. Needs root (debootstrap, chroot, mounts).
#
#   FRESH_ROOT=<dir>   where the root is built (default build/fresh-root)
#   FRESH_KEEP=1       keep the root afterwards (to look inside)
#   FRESH_TARGET=...   the make target run inside (default test)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
root=${FRESH_ROOT:-$repo/build/fresh-root}
base_tar=$repo/build/fresh-base.tar
target=${FRESH_TARGET:-test}

if [ "$(id -u)" -ne 0 ]; then
  echo "fresh-test: needs root (debootstrap, chroot and mounts)"
  exit 1
fi
command -v debootstrap >/dev/null || { echo "fresh-test: debootstrap missing (make deps installs it)"; exit 1; }

codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror=$(bash tools/debian-sources.sh | awk -v c="$codename" '$2 == c {print $1; exit}')
[ -n "$mirror" ] || { echo "fresh-test: no Debian $codename entry in this machine's apt sources"; exit 1; }

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  if [ -z "${FRESH_KEEP:-}" ] && [ -d "$root" ]; then rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT

# The base system is built once and kept as a tarball: it holds nothing of
# ours, so every run still starts from Debian alone.
if [ ! -f "$base_tar" ]; then
  echo "fresh-test: debootstrap $codename from $mirror"
  rm -rf --one-file-system "$root.base"
  debootstrap --variant=minbase --include=ca-certificates,debian-archive-keyring \
    "$codename" "$root.base" "$mirror" >"$repo/build/fresh-debootstrap.log" 2>&1 ||
    { tail -20 "$repo/build/fresh-debootstrap.log"; exit 1; }
  tar -C "$root.base" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf --one-file-system "$root.base"
fi
# A run that was killed leaves its mounts behind: take them down first.
awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r |
  while read -r m; do umount -l "$m" 2>/dev/null || true; done
rm -rf --one-file-system "$root"
mkdir -p "$root"
tar -C "$root" -xf "$base_tar"

# This machine's apt sources and settings (mirrors, snapshot validity), DNS,
# and the CA bundle the registries are reached through.
rm -f "$root"/etc/apt/sources.list "$root"/etc/apt/sources.list.d/*
bash tools/debian-sources.sh | awk '{
    printf "Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n", $1, $2
    if ($3 != "-") printf "Signed-By: %s\n", $3
    printf "\n"
  }' >"$root/etc/apt/sources.list.d/debian.sources"
for f in /etc/apt/apt.conf.d/*; do
  [ -e "$root/etc/apt/apt.conf.d/$(basename "$f")" ] || cp "$f" "$root/etc/apt/apt.conf.d/"
done
cp -L /etc/resolv.conf /etc/hosts "$root/etc/"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"

# node and npm, as on a fresh machine.
node_bin=$(command -v node) || { echo "fresh-test: node missing on this machine"; exit 1; }
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$root/usr/lib/node_modules"
cp -L "$node_bin" "$root/usr/bin/node"
cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
for f in /etc/npmrc /usr/etc/npmrc /root/.npmrc; do
  [ -f "$f" ] && mkdir -p "$root$(dirname "$f")" && cp "$f" "$root$f"
done

# git and make are what the README assumes a newcomer has to clone and start.
chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c \
  'apt-get update -qq && apt-get install -y -qq --no-install-recommends git make' \
  >"$repo/build/fresh-bootstrap-tools.log" 2>&1 || { tail -20 "$repo/build/fresh-bootstrap-tools.log"; exit 1; }

# The root is made a mount point of its own, as / is on a machine: `ip netns
# exec` (the lwIP/TAP interop test) remounts / as a slave and fails otherwise.
mount --bind "$root" "$root" && mounted+=("$root")
for m in proc sys dev dev/pts; do
  mkdir -p "$root/$m"
  case $m in
    proc) mount -t proc proc "$root/proc" ;;
    *) mount --rbind "/$m" "$root/$m" && mount --make-rslave "$root/$m" ;;
  esac
  mounted+=("$root/$m")
done
mkdir -p "$root/run" "$root/tmp"
mount -t tmpfs tmpfs "$root/run" && mounted+=("$root/run")
chmod 1777 "$root/tmp"

echo "fresh-test: cloning $(git rev-parse --short HEAD) into the root"
git clone -q "$repo" "$root/work/natsedge"
echo "fresh-test: make $target in $root (log: build/fresh-test.log)"
start=$(date +%s)
set +e
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  TERM=dumb bash -c "cd /work/natsedge && make $target" 2>&1 | tee "$repo/build/fresh-test.log" | tail -40
rc=${PIPESTATUS[0]}
set -e
echo "fresh-test: make $target exited $rc after $(($(date +%s) - start)) s"
exit "$rc"
