#!/bin/sh
# tests/docs/check-man.sh — fails when the man pages miss something the
# commands' --help text shows, so a new option or command cannot go
# undocumented:
# * every long option (--name) that `avm --help`, `avm run --help` or
#   `avmc --help` prints appears in the OPTIONS section of man/avm.1 or
#   man/avmc.1 (as \-\-name);
# * every default value "(default N)" they state appears in the page;
# * every command in their Usage lines (avm run, avmc build, ...) has a
#   .B line of its own in the COMMANDS section of the page;
# * every exit status of cli/exitcodes.h is listed (.B N) in the EXIT STATUS
#   section of avm.1, and each status avmc --help names in avmc.1;
# * when groff is installed, each page formats without warnings.
# The binaries are $AVM and $AVMC (../../avm and ../../avmc when unset).
# Exit 0 if all is there, 1 otherwise.

set -u
here=$(cd "$(dirname "$0")" && pwd) || exit 99
# DOCS_SRCDIR: another source tree to check (tests/docs/selftest.sh)
top=${DOCS_SRCDIR:-$(cd "$here/../.." && pwd)} || exit 99
avm=${AVM:-$here/../../avm}
avmc=${AVMC:-$here/../../avmc}
for b in "$avm" "$avmc"; do
  [ -x "$b" ] || { echo "check-man.sh: error: $b is not an executable (set AVM and AVMC)"; exit 99; }
done
for f in man/avm.1 man/avmc.1 cli/exitcodes.h; do
  [ -r "$top/$f" ] || { echo "check-man.sh: error: cannot read $top/$f"; exit 99; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

problems=0
problem() { echo "FAIL: $*"; problems=$((problems + 1)); }

# check PAGE PROGRAM HELP-FILE: the options, commands and exit statuses of
# one help text against one man page
check() {
  page=$top/man/$1 prog=$2 help=$3
  # options: --name (with or without =VALUE or an argument), in OPTIONS;
  # roff's \- read as -
  sed -n '/^\.SH "\{0,1\}OPTIONS/,/^\.SH/p' "$page" | sed 's/\\-/-/g' >"$tmp/options"
  for opt in $(grep -o -- '--[a-z][a-z0-9-]*' "$help" | sort -u); do
    grep -Eq -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|\$)" "$tmp/options" ||
      problem "man/$1 does not document option $opt (from $prog --help) in its OPTIONS section; write it as .B $(printf '%s' "$opt" | sed 's/-/\\-/g')"
  done
  # defaults the help states: "(default 2000000)"
  for d in $(sed -n 's/.*(default \([0-9][0-9]*\)).*/\1/p' "$help"); do
    grep -q "$d" "$page" || problem "man/$1 does not give the default $d that $prog --help states"
  done
  # commands: "Usage: PROG CMD ..." and "       PROG CMD ..." lines, each
  # with a ".B CMD" line in the COMMANDS section
  sed -n '/^\.SH "\{0,1\}COMMANDS/,/^\.SH/p' "$page" >"$tmp/commands"
  for cmd in $(sed -n "s/^\(Usage:\)\{0,1\} *$prog \([a-z][a-z-]*\)\( .*\)\{0,1\}\$/\2/p" "$help" | sort -u); do
    grep -q "^\.B  *$cmd *\$" "$tmp/commands" ||
      problem "man/$1 has no '.B $cmd' line in its COMMANDS section for '$prog $cmd' (from $prog --help)"
  done
  # exit statuses the help names
  sed -n '/^Exit status/,$p' "$help" | grep -o '[0-9][0-9]*' >"$tmp/codes"
  while read -r code; do
    exit_status_listed "$page" "$code" ||
      problem "man/$1 does not list exit status $code (from $prog --help) in its EXIT STATUS section as .B $code"
  done <"$tmp/codes"
}

exit_status_listed() {
  sed -n '/^\.SH "\{0,1\}EXIT STATUS/,/^\.SH/p' "$1" | grep -q "^\.B $2\$"
}

"$avm" --help >"$tmp/avm.help" 2>&1 || problem "avm --help failed"
"$avm" run --help >"$tmp/avm-run.help" 2>&1 || problem "avm run --help failed"
"$avmc" --help >"$tmp/avmc.help" 2>&1 || problem "avmc --help failed"
check avm.1 avm "$tmp/avm.help"
check avm.1 avm "$tmp/avm-run.help"
check avmc.1 avmc "$tmp/avmc.help"

# every status the tools can exit with, in avm.1
for code in $(sed -n 's/^ *X([A-Z]*, *\([0-9]*\),.*/\1/p' "$top/cli/exitcodes.h"); do
  exit_status_listed "$top/man/avm.1" "$code" ||
    problem "man/avm.1 does not list exit status $code (cli/exitcodes.h) in its EXIT STATUS section as .B $code"
done

if command -v groff >/dev/null 2>&1; then
  for p in avm.1 avmc.1; do
    groff -man -Tutf8 -ww -z "$top/man/$p" >"$tmp/groff.out" 2>&1
    [ -s "$tmp/groff.out" ] && { problem "groff warns about man/$p:"; cat "$tmp/groff.out"; }
  done
fi

if [ "$problems" -gt 0 ]; then
  echo "FAIL: $problems problems in man/avm.1 and man/avmc.1"
  exit 1
fi
echo "PASS: man/avm.1 and man/avmc.1 cover every option, command and exit status of --help"
