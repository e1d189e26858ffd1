#!/bin/bash
# tests/run-avm.sh — runs one .avm program test and checks its stdout, stderr
# and exit status against the expectations written in the test's comments.
#
# Usage: tests/run-avm.sh [--] PATH/TO/test.avm
#
# Used by automake as the LOG_COMPILER of the .avm tests (simple test-driver
# protocol): exit 0 = pass, 1 = fail, 77 = skip, 99 = hard error (no avm
# binary, unreadable or malformed test file).
#
# The avm binary is $AVM; when AVM is unset the script looks for ../avm next to
# itself (the top build directory of an in-tree build), then ./avm.
#
# Directives (one per line, at the start of a comment line; see
# tests/lang/README.md):
#   ; expect: TEXT               one line of expected stdout, in file order
#   ; expect-stderr: TEXT        one line of expected stderr, in file order
#   ; expect-exit: N             expected exit status (default 0)
#   ; expect-no-trailing-newline stdout does not end with a newline
#   ; run-flags: FLAGS           flags for `avm run` placed before the file
#   ; run-args: ARGS             arguments passed after `--`
#   ; skip: REASON               skip the test (exit 77)
# TEXT is everything after the directive's colon and one space, exactly; a
# directive with nothing after its colon stands for an empty line.
#
# The program runs as: cd DIR && $AVM run FLAGS NAME.avm [-- ARGS]
# with stdin from /dev/null, under `timeout ${AVM_TEST_TIMEOUT:-60}`.

# automake runs us as `$(SHELL) tests/run-avm.sh`, and $(SHELL) may be a
# POSIX sh: re-run under bash (this line must stay plain POSIX sh).
if [ -z "${BASH_VERSION-}" ]; then exec bash "$0" "$@"; fi

set -u

me=run-avm.sh

. "$(dirname "$0")/driver-lib.sh"
take_test_arg PATH/TO/test.avm "$@"
[ -f "$test_path" ] || hard_error "no such test file: $test_path"
[ -r "$test_path" ] || hard_error "cannot read test file: $test_path"

# --- find the avm binary (made absolute: the test runs in its own directory)
script_dir=$(cd "$(dirname "$0")" && pwd) || hard_error "cannot locate $0"
if [ -n "${AVM-}" ]; then
  avm=$AVM
  case $avm in
    */*) ;;
    *) avm=$(command -v "$avm") || hard_error "AVM=$AVM: not found in PATH" ;;
  esac
  [ -f "$avm" ] && [ -x "$avm" ] || hard_error "AVM=$AVM is not an executable file"
elif [ -x "$script_dir/../avm" ] && [ -f "$script_dir/../avm" ]; then
  avm=$script_dir/../avm
elif [ -x "./avm" ] && [ -f "./avm" ]; then
  avm=./avm
else
  hard_error "the avm binary was not found: set AVM=/path/to/avm (tried $script_dir/../avm and ./avm)"
fi
case $avm in
  /*) ;;
  *) avm=$(cd "$(dirname "$avm")" && pwd)/$(basename "$avm") ;;
esac

test_dir=$(dirname "$test_path")
test_name=$(basename "$test_path")

# --- temporary files (the source tree may be read-only)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-avm.XXXXXX") || hard_error "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

# --- read the directives
expect_exit=0
no_trailing_newline=0
stdout_lines=()
stderr_lines=()
run_flags=()
run_args=()
have_run_args=0
skip_reason=
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  line=${line%$'\r'}
  rest=${line#"${line%%[![:blank:]]*}"}      # leading blanks stripped
  case $rest in
    "; "*) body=${rest#; } ;;
    *) continue ;;
  esac
  name=${body%%[!a-z-]*}
  after=${body#"$name"}
  case $name in
    expect|expect-stderr|expect-exit|expect-no-trailing-newline|run-flags|run-args|skip) ;;
    expect-*|run-*)
      case $after in
        :*) hard_error "$test_path:$lineno: unknown directive: $line" ;;
      esac
      continue ;;
    *) continue ;;                              # an ordinary comment
  esac
  case $after in
    :) value= ;;
    ": "*) value=${after#: } ;;
    :*) hard_error "$test_path:$lineno: missing space after '$name:': $line" ;;
    *)
      if [ "$name" = expect-no-trailing-newline ] && [ -z "${after//[[:blank:]]/}" ]; then
        value=
      else
        continue                                # prose: "; expect the worst"
      fi ;;
  esac
  case $name in
    expect) stdout_lines+=("$value") ;;
    expect-stderr) stderr_lines+=("$value") ;;
    expect-exit)
      case $value in
        ''|*[!0-9]*) hard_error "$test_path:$lineno: expect-exit needs a number: $line" ;;
      esac
      expect_exit=$((10#$value)) ;;
    expect-no-trailing-newline) no_trailing_newline=1 ;;
    run-flags) read -r -a words <<<"$value"; run_flags+=("${words[@]}") ;;
    run-args) have_run_args=1; read -r -a words <<<"$value"; run_args+=("${words[@]}") ;;
    skip) skip_reason=${value:-no reason given} ;;
  esac
done <"$test_path"

if [ -n "$skip_reason" ]; then
  echo "SKIP: $test_path: $skip_reason"
  exit 77
fi

# expected streams: one line each, newline-terminated (but see
# expect-no-trailing-newline)
n=${#stdout_lines[@]}
for ((i = 0; i < n; i++)); do
  if [ $((i + 1)) -eq "$n" ] && [ "$no_trailing_newline" = 1 ]; then
    printf '%s' "${stdout_lines[i]}"
  else
    printf '%s\n' "${stdout_lines[i]}"
  fi
done >"$tmp/expected-stdout"
for l in "${stderr_lines[@]}"; do printf '%s\n' "$l"; done >"$tmp/expected-stderr"

# --- run
timeout_s=${AVM_TEST_TIMEOUT:-60}
cmd=("$avm" run "${run_flags[@]}" "$test_name")
[ "$have_run_args" = 1 ] && cmd+=(-- "${run_args[@]}")
if command -v timeout >/dev/null 2>&1; then
  runner=(timeout "$timeout_s")
else
  runner=()
fi

echo "cd $test_dir && ${cmd[*]}"
(cd "$test_dir" && exec "${runner[@]}" "${cmd[@]}" </dev/null \
   >"$tmp/actual-stdout" 2>"$tmp/actual-stderr")
status=$?

# --- compare
# GNU diff can label the two sides; otherwise the temporary names show.
if diff --label a --label b /dev/null /dev/null >/dev/null 2>&1; then
  show_diff() { diff -u --label "expected $1" --label "actual $1" "$tmp/expected-$1" "$tmp/actual-$1"; }
else
  show_diff() { (cd "$tmp" && diff -u "expected-$1" "actual-$1"); }
fi
fail=0
if ! cmp -s "$tmp/expected-stdout" "$tmp/actual-stdout"; then
  fail=1
  echo "FAIL: stdout differs:"
  show_diff stdout
fi
if ! cmp -s "$tmp/expected-stderr" "$tmp/actual-stderr"; then
  fail=1
  echo "FAIL: stderr differs:"
  show_diff stderr
fi
if [ "$status" != "$expect_exit" ]; then
  fail=1
  if [ -n "${runner[*]}" ] && [ "$status" = 124 ]; then
    echo "FAIL: timed out after ${timeout_s}s (expected exit status $expect_exit)"
  elif [ "$status" -gt 128 ]; then
    echo "FAIL: exit status: expected $expect_exit, got $status (killed by signal $((status - 128)))"
  else
    echo "FAIL: exit status: expected $expect_exit, got $status"
  fi
fi

if [ "$fail" = 0 ]; then
  echo "PASS: $test_path"
  exit 0
fi
echo "FAIL: $test_path"
exit 1
