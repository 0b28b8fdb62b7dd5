#!/usr/bin/env bash
# natsedge(8) against `natsedge --help`: the man page documents exactly the
# flags the usage shows (no more, no fewer), and renders without warnings.
#   tools/check-man.sh <natsedge binary> <man page>
set -euo pipefail
bin=${1:?usage: check-man.sh <natsedge binary> <man page>}
man=${2:?usage: check-man.sh <natsedge binary> <man page>}

# Flags: a '-' or '--' not inside a word, then a letter; numbers (-1) and
# words with hyphens (start-up, built-in) are not flags.
flags() {
    grep -oE '(^|[^[:alnum:]_-])--?[A-Za-z][A-Za-z_]*' | sed -E 's/^[^-]*//' | sort -u
}

help_flags=$("$bin" --help | flags)
# The man page's text: roff's \- is a hyphen, font escapes go.
man_flags=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e '/^\.\\"/d' "$man" | flags)

missing=$(comm -23 <(echo "$help_flags") <(echo "$man_flags"))
extra=$(comm -13 <(echo "$help_flags") <(echo "$man_flags"))
status=0
if [ -n "$missing" ]; then
    echo "check-man: $man does not document:" $missing
    status=1
fi
if [ -n "$extra" ]; then
    echo "check-man: $man documents flags --help does not show:" $extra
    status=1
fi
warnings=$(groff -t -man -Tutf8 -ww -z "$man" 2>&1 || true)
if [ -n "$warnings" ]; then
    echo "check-man: groff warns about $man:"
    echo "$warnings"
    status=1
fi
if [ $status -eq 0 ]; then
    echo "check-man: $man documents the $(echo "$help_flags" | wc -l) flags of $bin --help"
fi
exit $status
