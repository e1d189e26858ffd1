#!/bin/bash
# tests/run-repl.sh — runs one REPL transcript test (tests/repl/*.repl):
# feeds its input lines to `avm repl` through a pipe and checks stdout,
# stderr and the exit status against the transcript.
#
# Usage: tests/run-repl.sh [--] PATH/TO/test.repl
#
# Transcript lines:
#   > TEXT        a line of input (">" alone: an empty input line)
#   ! TEXT        a line expected on stderr ("!" alone: an empty one)
#   ~ REGEX       a line expected on stdout, matching the extended regular
#                 expression (anchored at both ends)
#   | TEXT        a line expected on stdout, verbatim ("|" alone: empty)
#   %% exit: N    the expected exit status (default 0)
#   %% args: ...  more arguments for `avm repl`
#   %% ...        a comment; so are blank lines
#   anything else a line expected on stdout, verbatim
# Input goes in as one stream, so the transcript reads like a session: each
# input followed by what it prints.  The test runs in the transcript's
# directory, with stdin from the input lines, under a timeout
# (AVM_TEST_TIMEOUT, 60 s); $AVM is the binary (else ../avm next to this
# script).  Exit status: 0 pass, 1 fail, 99 hard error.

if [ -z "${BASH_VERSION-}" ]; then exec bash "$0" "$@"; fi
set -u
me=run-repl.sh

. "$(dirname "$0")/driver-lib.sh"
take_test_arg PATH/TO/test.repl "$@"
[ -r "$test_path" ] || hard_error "cannot read test file: $test_path"

script_dir=$(cd "$(dirname "$0")" && pwd) || hard_error "cannot locate $0"
if [ -n "${AVM-}" ]; then
  avm=$AVM
elif [ -x "$script_dir/../avm" ]; then
  avm=$script_dir/../avm
else
  hard_error "the avm binary was not found: set AVM=/path/to/avm"
fi
case $avm in
  /*) ;;
  *) avm=$(cd "$(dirname "$avm")" && pwd)/$(basename "$avm") ;;
esac
[ -x "$avm" ] || hard_error "AVM=$avm is not executable"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-repl.XXXXXX") || hard_error "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

expect_exit=0
args=()
stdout_lines=()
: >"$tmp/input"
: >"$tmp/expected-stderr"
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  line=${line%$'\r'}
  case $line in
    '%% exit: '*)
      expect_exit=${line#'%% exit: '}
      case $expect_exit in ''|*[!0-9]*) hard_error "$test_path:$lineno: bad exit status: $line" ;; esac ;;
    '%% args: '*) read -r -a words <<<"${line#'%% args: '}"; args+=("${words[@]}") ;;
    '%%'*|'') ;;
    '>') printf '\n' >>"$tmp/input" ;;
    '> '*) printf '%s\n' "${line#> }" >>"$tmp/input" ;;
    '!') printf '\n' >>"$tmp/expected-stderr" ;;
    '! '*) printf '%s\n' "${line#! }" >>"$tmp/expected-stderr" ;;
    '|') stdout_lines+=("") ;;
    '| '*) stdout_lines+=("${line#| }") ;;
    *) stdout_lines+=("$line") ;;
  esac
done <"$test_path"

timeout_s=${AVM_TEST_TIMEOUT:-60}
runner=()
command -v timeout >/dev/null 2>&1 && runner=(timeout "$timeout_s")
echo "cd $(dirname "$test_path") && $avm repl ${args[*]} < (input of $(basename "$test_path"))"
(cd "$(dirname "$test_path")" && exec "${runner[@]}" "$avm" repl "${args[@]}" <"$tmp/input" \
   >"$tmp/actual-stdout" 2>"$tmp/actual-stderr")
status=$?

fail=0
# stdout: line by line, "~ " lines as regular expressions.
mapfile -t actual <"$tmp/actual-stdout"
ok=1
if [ ${#actual[@]} -ne ${#stdout_lines[@]} ]; then
  ok=0
else
  for ((i = 0; i < ${#actual[@]}; i++)); do
    want=${stdout_lines[i]}
    if [ "${want:0:2}" = "~ " ]; then
      [[ ${actual[i]} =~ ^${want:2}$ ]] && continue
    elif [ "${actual[i]}" = "$want" ]; then
      continue
    fi
    ok=0
    echo "stdout line $((i + 1)): expected: $want"
    echo "stdout line $((i + 1)): actual:   ${actual[i]}"
    break
  done
fi
if [ $ok = 0 ]; then
  fail=1
  echo "FAIL: stdout differs:"
  printf '%s\n' "${stdout_lines[@]}" >"$tmp/expected-stdout"
  [ ${#stdout_lines[@]} -eq 0 ] && : >"$tmp/expected-stdout"
  diff -u "$tmp/expected-stdout" "$tmp/actual-stdout" | tail -n +3
fi
if ! cmp -s "$tmp/expected-stderr" "$tmp/actual-stderr"; then
  fail=1
  echo "FAIL: stderr differs:"
  diff -u "$tmp/expected-stderr" "$tmp/actual-stderr" | tail -n +3
fi
if [ "$status" != "$expect_exit" ]; then
  fail=1
  if [ "$status" = 124 ] && [ ${#runner[@]} -gt 0 ]; then
    echo "FAIL: timed out after ${timeout_s}s"
  else
    echo "FAIL: exit status: expected $expect_exit, got $status"
  fi
fi
if [ $fail = 0 ]; then
  echo "PASS: $test_path"
  exit 0
fi
echo "FAIL: $test_path"
exit 1
