#!/bin/sh
# tests/repl/cli.sh — how avm starts the REPL from the command line, and
# avm alone with a pipe on stdin; how avm and avmc report a bad command
# line.  $AVM and $AVMC are the binaries.
set -u
fail=0
check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "PASS: $1"; else
    echo "FAIL: $1"; echo "  expected: $2"; echo "  actual:   $3"; fail=1; fi
}
AVM=${AVM:-../../avm}
AVMC=${AVMC:-../../avmc}

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

# A bad option: one line that names it, a pointer to --help, status 64.
out=$("$AVM" run --bogus x.avm 2>&1; echo "status $?")
check "avm run with an unknown option" "avm: unrecognized option '--bogus'
Try 'avm --help'.
status 64" "$out"

out=$("$AVM" repl -x </dev/null 2>&1; echo "status $?")
check "avm repl with an unknown short option" "avm: unrecognized option '-x'
Try 'avm --help'.
status 64" "$out"

out=$("$AVM" run --stack 2>&1; echo "status $?")
check "avm run with an option missing its argument" "avm: option '--stack' requires an argument
Try 'avm --help'.
status 64" "$out"

out=$("$AVM" run --allow-unsafe=yes x.avm 2>&1; echo "status $?")
check "avm run with an argument to an option that takes none" "avm: option '--allow-unsafe' takes no argument
Try 'avm --help'.
status 64" "$out"

out=$("$AVMC" build --bogus x.avm 2>&1; echo "status $?")
check "avmc build with an unknown option" "avmc: unrecognized option '--bogus'
Try 'avmc --help'.
status 64" "$out"

out=$("$AVMC" build x.avm -o 2>&1; echo "status $?")
check "avmc build -o without a file" "avmc: option '-o' requires an argument
Try 'avmc --help'.
status 64" "$out"

# Every exit status either tool can give is in its --help.
out=$("$AVM" --help | sed -n '/^Exit status/,$p' | grep -c '74 output')
check "avm --help lists exit status 74" "1" "$out"

# avmc build - reads standard input: the output must be named (-o - is
# standard output); it used to write a file named -.avmb.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
out=$(cd "$tmp" && echo '(+ 1 2)' | "$AVMC" build - 2>&1; echo "status $?"; ls)
check "avmc build - needs -o" "avmc: build: input from standard input (-) needs -o FILE (-o - writes to standard output)
Try 'avmc --help'.
status 64" "$out"

out=$(cd "$tmp" && echo '(+ 1 2)' | "$AVMC" build - -o - | "$AVM" run -; echo "status $?"; ls)
check "avmc build - -o - writes the bytecode to standard output" "3
status 0" "$out"

exit $fail
