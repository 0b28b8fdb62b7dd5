#!/usr/bin/env bash
# Prints "URI SUITE KEYRING" (KEYRING "-" when the entry names none) for every
# binary Debian entry of this machine's release, from both apt formats: the
# one-line sources.list and deb822 *.sources. tools/deps.sh derives its
# deb-src entries from them and tools/fresh-test.sh its root's mirror, so
# neither names a mirror of its own.
set -euo pipefail
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
{
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } | awk '
    $1 == "deb" {
      key = "-"; i = 2
      if ($2 ~ /^\[/) {
        for (; i <= NF; i++) {
          if ($i ~ /^\[?signed-by=/) { key = $i; sub(/^\[?signed-by=/, "", key); sub(/\]$/, "", key) }
          if ($i ~ /\]$/) { i++; break }
        }
      }
      print $i, $(i + 1), key
    }'
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN {RS=""} {
           types = ""; uris = ""; suites = ""; key = "-"
           n = split($0, lines, "\n")
           for (i = 1; i <= n; i++) {
             if (lines[i] ~ /^Types:/) types = lines[i]
             if (lines[i] ~ /^URIs:/) uris = lines[i]
             if (lines[i] ~ /^Suites:/) suites = lines[i]
             if (lines[i] ~ /^Signed-By:/) { key = lines[i]; sub(/^Signed-By:[ \t]*/, "", key) }
           }
           if (types !~ /[ \t]deb([ \t]|$)/) next
           nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
           for (a = 2; a <= nu; a++) for (b = 2; b <= ns; b++) print u[a], s[b], key
         }' "$f"
  done
} | awk -v c="$codename" '$2 == c || $2 == c "-updates" || $2 == c "-security"' | sort -u
