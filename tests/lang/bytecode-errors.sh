#!/bin/bash
# tests/lang/bytecode-errors.sh — runtime errors of a program run from its
# .avmb: the location and backtrace come from the bytecode's file name and
# line table, and no line is quoted (the source is not loaded).  Also avmc's
# "did you mean".  Uses $AVM and $AVMC (set by make check); exit 0 on
# success, 1 on a mismatch, 99 when a binary is missing.
if [ -z "${BASH_VERSION-}" ]; then exec bash "$0" "$@"; fi
set -u
[ -x "${AVM-}" ] && [ -x "${AVMC-}" ] || { echo "AVM and AVMC must name the binaries"; exit 99; }
work=$(mktemp -d "${TMPDIR:-/tmp}/bytecode-errors.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 99
fails=0

# expect NAME STATUS EXPECTED-STDERR COMMAND...
expect() {
  local name=$1 want_status=$2 want=$3
  shift 3
  "$@" >/dev/null 2>"$work/err" </dev/null
  local status=$?
  if [ "$status" != "$want_status" ] || [ "$(cat "$work/err")" != "$want" ]; then
    echo "FAIL: $name: exit $status (expected $want_status), stderr:"
    cat "$work/err"
    echo "expected:"
    printf '%s\n' "$want"
    fails=$((fails + 1))
  else
    echo "PASS: $name"
  fi
}

cat >prog.avm <<'AVM'
(define (f x) (car x))
(define (g y)
  (list (f y)))
(g 5)
AVM
"$AVMC" build prog.avm -o prog.avmb || { echo "FAIL: avmc build"; exit 1; }
rm prog.avm
expect "error located from the line table" 1 \
"prog.avm:1:15: error: car: expected pair, got 5
  in f at prog.avm:1:15
  in g at prog.avm:3:9
  in the program at prog.avm:4:1" "$AVM" run prog.avmb

printf '(define (g y) (lenght y))\n' >typo.avm
expect "avmc: did you mean" 2 \
"typo.avm:1:16: error: unbound variable 'lenght'
 (define (g y) (lenght y))
                ^~~~~~
typo.avm:1:16: note: did you mean 'length'?" "$AVMC" build typo.avm -o typo.avmb

[ "$fails" = 0 ]
