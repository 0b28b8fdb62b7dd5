#!/usr/bin/env bash
# make check: the folders are floors (docs/architecture.md). A file includes
# only its own folder and folders on lower floors; folders on one floor never
# include each other; a port includes port.h and floor 1 only. Prints every
# include that goes up a floor or sideways and exits 1 if there is one.
#
#   tools/check-floors.sh            check src/ and port/
#   tools/check-floors.sh --table    print the floor of every folder
set -euo pipefail
cd "$(dirname "$0")/.."

# Floor of a folder under src/, in tens: the first digit is the floor of
# docs/architecture.md. Floor 1 has a base, core (errors, assertions, pools),
# which its siblings codec and json use. Unknown folders are an error: add
# them here and to docs/architecture.md.
floor_of() {
  case $1 in
    core) echo 10 ;;
    codec | json) echo 11 ;;
    proto | sublist | auth | conf | store) echo 20 ;;
    conn) echo 30 ;;
    router) echo 40 ;;
    nats | leaf | route | mqtt | mon) echo 50 ;;
    js | sys | raft) echo 60 ;;
    server) echo 70 ;;
    *) echo "" ;;
  esac
}

if [ "${1:-}" = "--table" ]; then
  for d in src/*/; do
    d=${d#src/}
    d=${d%/}
    f=$(floor_of "$d")
    printf '%s %s\n' "${f:0:1}" "$d"
  done | sort -n
  exit 0
fi

bad=0
report() {
  echo "check-floors: $1"
  bad=1
}

# Includes of a file: the quoted ones (system headers in <> are not ours).
includes() {
  sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

for f in $(git ls-files 'src/*.c' 'src/*.h'); do
  mod=$(echo "$f" | cut -d/ -f2)
  mine=$(floor_of "$mod")
  if [ -z "$mine" ]; then
    report "$f: folder src/$mod has no floor (tools/check-floors.sh, docs/architecture.md)"
    continue
  fi
  for inc in $(includes "$f"); do
    case $inc in
      ne_config*.h | profiles/* | port.h) continue ;; # floor 0
    esac
    case $inc in
      */*) ;;
      *)
        # A bare name is a header of the file's own folder only if it is there.
        [ -f "src/$mod/$inc" ] || [ -f "config/$inc" ] ||
          report "$f includes \"$inc\": not in src/$mod or config/"
        continue
        ;;
    esac
    target=${inc%%/*}
    [ "$target" = "$mod" ] && continue
    theirs=$(floor_of "$target")
    if [ -z "$theirs" ]; then
      report "$f includes \"$inc\": not a folder of src/ (floor 0 is config/ and port.h)"
    elif [ "$theirs" -gt "$mine" ]; then
      report "$f (floor ${mine:0:1}, $mod) includes \"$inc\" (floor ${theirs:0:1}, $target): up a floor"
    elif [ "$theirs" -eq "$mine" ]; then
      report "$f (floor ${mine:0:1}, $mod) includes \"$inc\" (floor ${theirs:0:1}, $target): sideways"
    fi
  done
done

# Ports: port.h, their own folder, floor 1 and the third-party stack they
# wrap (lwIP's and mbedTLS's own headers), never the server.
for f in $(git ls-files 'port/*/*.c' 'port/*/*.h' 'port/*/*/*.h'); do
  port=$(echo "$f" | cut -d/ -f2)
  for inc in $(includes "$f"); do
    case $inc in
      port.h | ne_config*.h | profiles/* | mbedtls_config.h) continue ;;
      "$port"/* | arch/*) continue ;;
    esac
    target=${inc%%/*}
    case $inc in
      */*) ;;
      *)
        [ -f "$(dirname "$f")/$inc" ] || [ -f "config/$inc" ] ||
          report "$f includes \"$inc\": not in its folder or config/"
        continue
        ;;
    esac
    if [ "$(floor_of "$target")" = 10 ] || [ "$(floor_of "$target")" = 11 ]; then
      continue
    fi
    # Third-party headers of the stack the port wraps (lwip/, mbedtls/, netif/).
    case $port:$target in
      lwip:lwip | lwip:netif | mbedtls:mbedtls) continue ;;
    esac
    report "$f (port/$port) includes \"$inc\": a port includes port.h and floor 1 only"
  done
done

if [ $bad -ne 0 ]; then
  exit 1
fi
echo "check-floors: every include of src/ and port/ goes down a floor or stays in its folder"
