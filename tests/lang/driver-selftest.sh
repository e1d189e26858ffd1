#!/bin/bash
# tests/lang/driver-selftest.sh — checks tests/run-avm.sh itself against a fake
# avm that replays canned output.  Needs no avm binary; works in a read-only
# source tree (everything it writes goes under ${TMPDIR:-/tmp}).
# Exit 0 when every check passes, 1 otherwise.
if [ -z "${BASH_VERSION-}" ]; then exec bash "$0" "$@"; fi
set -u
here=$(cd "$(dirname "$0")" && pwd)
driver=$here/../run-avm.sh
[ -f "$driver" ] || { echo "driver not found: $driver"; exit 99; }

work=$(mktemp -d "${TMPDIR:-/tmp}/run-avm-selftest.XXXXXX") || exit 99
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# The fake avm: records its argv and working directory, then prints
# $FAKE_OUT (printf format) to stdout, $FAKE_ERR to stderr and exits $FAKE_EXIT.
cat >"$work/fake-avm" <<'EOF'
#!/bin/bash
printf '%s\n' "$PWD" >"$FAKE_LOG"
printf '%s\n' "$@" >>"$FAKE_LOG"
[ -n "${FAKE_SLEEP-}" ] && sleep "$FAKE_SLEEP"
if IFS= read -r -t 1 _; then echo "stdin is not empty" >&2; fi
printf "${FAKE_OUT-}"
printf "${FAKE_ERR-}" >&2
exit "${FAKE_EXIT:-0}"
EOF
chmod +x "$work/fake-avm"
export FAKE_LOG=$work/fake.log
# the driver's own temporary files go here, so that we can check they are removed
mkdir -p "$work/tmp"
export TMPDIR=$work/tmp

mkdir -p "$work/src/sub"
fails=0
n=0

# check NAME EXPECTED-STATUS [GREP-PATTERN-IN-OUTPUT...]
# runs the driver on $work/src/sub/t.avm (contents from $T) with the current
# FAKE_* settings.
check() {
  local name=$1 want=$2; shift 2
  n=$((n + 1))
  printf '%s' "$T" >"$work/src/sub/t.avm"
  local out status
  out=$(cd "$work" && "$driver" src/sub/t.avm 2>&1)
  status=$?
  local ok=1
  [ "$status" = "$want" ] || ok=0
  for pat in "$@"; do
    grep -qF -- "$pat" <<<"$out" || { ok=0; echo "  missing in output: $pat"; }
  done
  if [ "$ok" = 1 ]; then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name (status $status, wanted $want)"
    sed 's/^/  | /' <<<"$out"
    fails=$((fails + 1))
  fi
}

export AVM=$work/fake-avm

# --- pass: stdout, stderr and status all match
T='; expect: hello
; expect: (1 2)
(display "hello")
'
FAKE_OUT='hello\n(1 2)\n' FAKE_ERR='' FAKE_EXIT=0 check "pass" 0 "PASS"

# --- the program runs in the test's directory with the bare file name
grep -qx "$work/src/sub" "$FAKE_LOG" && sed -n 2,3p "$FAKE_LOG" | tr '\n' ' ' | grep -qx 'run t.avm ' \
  && echo "ok $((n += 1)) - cwd and argv" \
  || { echo "not ok $((n += 1)) - cwd and argv"; cat "$FAKE_LOG"; fails=$((fails + 1)); }

# --- stdout mismatch: exit 1 with a unified diff
FAKE_OUT='hello\n(1 3)\n' FAKE_EXIT=0 check "stdout mismatch" 1 \
  "FAIL: stdout differs" "--- expected stdout" "+++ actual stdout" "-(1 2)" "+(1 3)"

# --- missing trailing newline is a mismatch
FAKE_OUT='hello\n(1 2)' FAKE_EXIT=0 check "missing final newline" 1 "No newline at end of file"

# --- expect-no-trailing-newline
T='; expect: x
; expect-no-trailing-newline
'
FAKE_OUT='x' check "no trailing newline" 0 "PASS"
FAKE_OUT='x\n' check "no trailing newline, but got one" 1 "stdout differs"

# --- empty expected lines
T='; expect:
; expect: a
; expect: 
'
FAKE_OUT='\na\n\n' check "empty lines" 0 "PASS"

# --- text is exact: leading spaces and a tab kept
T=';   expect: not a directive (extra spaces)
; expect:   two spaces before
; expect: a	tab
'
FAKE_OUT='  two spaces before\na\ttab\n' check "exact text" 0 "PASS"

# --- stderr and exit status
T='; expect-stderr: error: car: expected pair, got 5
; expect-exit: 1
(car 5)
'
FAKE_OUT='' FAKE_ERR='error: car: expected pair, got 5\n' FAKE_EXIT=1 check "runtime error pass" 0 "PASS"
FAKE_ERR='error: car: expected pair, got 6\n' FAKE_EXIT=1 check "stderr mismatch" 1 \
  "FAIL: stderr differs" "--- expected stderr" "+error: car: expected pair, got 6"
FAKE_ERR='error: car: expected pair, got 5\n' FAKE_EXIT=0 check "status mismatch" 1 \
  "FAIL: exit status: expected 1, got 0"
FAKE_ERR='error: car: expected pair, got 5\n' FAKE_EXIT=139 check "crash" 1 \
  "killed by signal 11"

# --- unexpected stderr with expected stdout
T='; expect: 3
'
FAKE_OUT='3\n' FAKE_ERR='warning: x\n' FAKE_EXIT=0 check "unexpected stderr" 1 "+warning: x"

# --- run-flags and run-args
T='; run-flags: --allow-unsafe
; run-flags: --stack 1000
; run-args: a b  c
'
FAKE_OUT='' FAKE_ERR='' FAKE_EXIT=0 check "flags and args" 0 "PASS"
got=$(sed 1d "$FAKE_LOG" | tr '\n' ' ')
[ "$got" = "run --allow-unsafe --stack 1000 t.avm -- a b c " ] \
  && echo "ok $((n += 1)) - flags and args order" \
  || { echo "not ok $((n += 1)) - flags and args order: $got"; fails=$((fails + 1)); }

T='; run-args:
'
check "empty run-args" 0 "PASS"
got=$(sed 1d "$FAKE_LOG" | tr '\n' ' ')
[ "$got" = "run t.avm -- " ] \
  && echo "ok $((n += 1)) - empty run-args passes --" \
  || { echo "not ok $((n += 1)) - empty run-args: $got"; fails=$((fails + 1)); }

# --- skip
T='; skip: not implemented yet
'
check "skip" 77 "SKIP"

# --- malformed directives are hard errors
T='; expect:no-space
'
check "missing space" 99 "missing space"
T='; expect-stdout: x
'
check "unknown directive" 99 "unknown directive"
T='; expect-exit: one
'
check "bad exit status" 99 "expect-exit needs a number"
T='; expected: prose
; expect the worst, this is a comment
; run-time errors are prose too
'
FAKE_OUT='' check "prose comments are not directives" 0 "PASS"

# --- timeout
T='; expect: x
'
AVM_TEST_TIMEOUT=1 FAKE_SLEEP=5 FAKE_OUT='x\n' check "timeout" 1 "timed out after 1s"

# --- missing binary
T=''
AVM=$work/no-such-avm check "AVM not executable" 99 "is not an executable file"
# AVM unset: the driver looks for ../avm next to itself, then ./avm
mkdir -p "$work/tree/tests"
cp "$driver" "$work/tree/tests/run-avm.sh"
cp "$(dirname "$driver")/driver-lib.sh" "$work/tree/tests/driver-lib.sh"
T='; expect: found
'
printf '%s' "$T" >"$work/src/sub/t.avm"
(unset AVM; cd "$work" && "$work/tree/tests/run-avm.sh" src/sub/t.avm >/dev/null 2>&1); st=$?
[ "$st" = 99 ] && echo "ok $((n += 1)) - AVM unset and no avm: hard error" \
  || { echo "not ok $((n += 1)) - AVM unset and no avm: status $st"; fails=$((fails + 1)); }
cp "$work/fake-avm" "$work/tree/avm"
(unset AVM; cd "$work" && FAKE_OUT='found\n' "$work/tree/tests/run-avm.sh" src/sub/t.avm >/dev/null 2>&1); st=$?
[ "$st" = 0 ] && echo "ok $((n += 1)) - AVM unset: ../avm next to the driver is used" \
  || { echo "not ok $((n += 1)) - AVM unset, ../avm: status $st"; fails=$((fails + 1)); }
rm "$work/tree/avm"
cp "$work/fake-avm" "$work/avm"
(unset AVM; cd "$work" && FAKE_OUT='found\n' "$work/tree/tests/run-avm.sh" src/sub/t.avm >/dev/null 2>&1); st=$?
[ "$st" = 0 ] && echo "ok $((n += 1)) - AVM unset: ./avm is used" \
  || { echo "not ok $((n += 1)) - AVM unset, ./avm: status $st"; fails=$((fails + 1)); }
rm "$work/avm"
T='; expect: x
'
(cd "$work" && "$driver" src/sub/missing.avm >/dev/null 2>&1); st=$?
[ "$st" = 99 ] && echo "ok $((n += 1)) - missing test file" \
  || { echo "not ok $((n += 1)) - missing test file: status $st"; fails=$((fails + 1)); }

# --- read-only test directory, relative AVM
printf '; expect: ro\n' >"$work/src/sub/ro.avm"
chmod a-w "$work/src/sub" "$work/src"
out=$(cd "$work" && AVM=./fake-avm FAKE_OUT='ro\n' "$driver" src/sub/ro.avm 2>&1); st=$?
chmod u+w "$work/src" "$work/src/sub"
[ "$st" = 0 ] && echo "ok $((n += 1)) - read-only tree, relative AVM" \
  || { echo "not ok $((n += 1)) - read-only tree: status $st"; echo "$out"; fails=$((fails + 1)); }

# --- no temporary files left behind
left=$(find "$work/tmp" -mindepth 1 | wc -l)
[ "$left" = 0 ] && echo "ok $((n += 1)) - temporary files removed" \
  || { echo "not ok $((n += 1)) - $left temporary directories left"; fails=$((fails + 1)); }

echo "$n checks, $fails failed"
[ "$fails" = 0 ]
