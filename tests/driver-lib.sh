# tests/driver-lib.sh — what the test drivers (run-avm.sh, run-repl.sh,
# docs/run-docs.sh) share: the hard error, and taking the one test file
# argument.  Sourced, POSIX sh; the driver sets $me to its name first.

# A hard error (exit 99 in automake's protocol), said on stderr for a
# person and on stdout for the test's log.
hard_error() {
  printf '%s: error: %s\n' "$me" "$*" >&2
  printf '%s: error: %s\n' "$me" "$*"
  exit 99
}

# take_test_arg USAGE ARGS...: the single argument after an optional --,
# in $test_path.
take_test_arg() {
  usage=$1
  shift
  [ "${1-}" = "--" ] && shift
  [ $# -eq 1 ] || hard_error "usage: $me $usage"
  test_path=$1
}
