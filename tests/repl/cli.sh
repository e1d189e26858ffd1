#!/bin/sh
# tests/repl/cli.sh — how avm starts the REPL from the command line, and
# avm alone with a pipe on stdin.  $AVM is the binary.
set -u
fail=0
check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "PASS: $1"; else
    echo "FAIL: $1"; echo "  expected: $2"; echo "  actual:   $3"; fail=1; fi
}
AVM=${AVM:-../../avm}

# A pipe gets the values and nothing else: no prompt, no escape codes.
out=$(echo '(+ 1 2)' | "$AVM" repl | od -An -c | tr -s ' ')
check "piped repl prints only the value" " 3 \n" "$out"

out=$(printf '(define x 4)\n(* x x)\n' | "$AVM" repl 2>&1; echo "status $?")
check "piped repl keeps definitions" "16
status 0" "$out"

# avm alone reads a program from a pipe (it runs it, as avm run - does).
out=$(printf '(define x 4)\n(display "run ")\n(* x x)\n' | "$AVM"; echo "status $?")
check "avm alone runs piped stdin as a program" "run 16
status 0" "$out"

out=$("$AVM" repl --help | grep -c 'avm repl \[OPTION\]')
check "avm repl --help describes the REPL" "1" "$out"

"$AVM" repl --bogus </dev/null >/dev/null 2>&1
check "avm repl with a bad option is a usage error" "64" "$?"

"$AVM" repl --gas x </dev/null >/dev/null 2>&1
check "avm repl --gas needs a number" "64" "$?"

"$AVM" repl missing-file.avm </dev/null >/dev/null 2>&1
check "avm repl with a missing file to load" "66" "$?"

exit $fail
