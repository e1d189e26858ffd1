# tests/node/lib.sh — what the node tests share (sourced, not run): start
# nodes on loopback, each on a port the system picks, and stop them all at
# the end whatever happens.  Every node runs under `timeout`, so a test
# that goes wrong ends instead of hanging.
#   $AVM         the avm binary
#   $NODECLIENT  tests/node/nodeclient
#   $EXAMPLES    the examples/ directory
set -u
AVM=${AVM:-../../avm}
here=$(cd "$(dirname "$0")" && pwd)
EXAMPLES=${EXAMPLES:-$here/../../examples}
NODECLIENT=${NODECLIENT:-./tests/node/nodeclient}
[ -x "$NODECLIENT" ] || NODECLIENT=$here/nodeclient
tmp=$(mktemp -d "${TMPDIR:-/tmp}/avm-node-test.XXXXXX") || exit 99
pids=""
fail=0
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  # A failed test shows what its nodes said, for a failure seen once.
  if [ "$fail" != 0 ]; then
    for f in "$tmp"/*.err; do
      [ -s "$f" ] || continue
      echo "  -- $(basename "$f" .err), last lines of its stderr:"
      tail -n 15 "$f" | sed 's/^/  | /'
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' HUP INT PIPE TERM

check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "PASS: $1"; else
    echo "FAIL: $1"; echo "  expected: $2"; echo "  actual:   $3"; fail=1; fi
}
check_grep() {  # check_grep NAME PATTERN FILE: FILE has a line matching PATTERN
  if grep -q -- "$2" "$3"; then echo "PASS: $1"; else
    echo "FAIL: $1"; echo "  no line matching: $2"; sed 's/^/  | /' "$3"; fail=1; fi
}

# watchdog PID: kills process PID after 60 seconds, unless the watchdog
# is killed first (cleanup does): a node left running never outlives its
# test by long.
watchdog() {
  (
    trap 'kill $s 2>/dev/null; exit 0' TERM
    sleep 60 & s=$!
    wait $s && kill "$1" 2>/dev/null
  ) >/dev/null 2>&1 &
  pids="$pids $!"
}

# start NAME [ARG...]: starts node NAME in the background (stdout in
# $tmp/NAME.out, stderr in $tmp/NAME.err) and waits until it listens; its
# port is then in the variable port_NAME, its process id in pid_NAME.
start() {
  name=$1; shift
  # Emptied here, not only by the redirections below: those happen in the
  # child after the fork, and a name used before (run_node alpha, then
  # start alpha) would otherwise show the old node's port to the loop.
  : >"$tmp/$name.out"; : >"$tmp/$name.err"
  "$AVM" node --name "$name" --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pid=$!
  pids="$pids $pid"
  watchdog $pid
  eval "pid_$name=$pid"
  i=0
  while :; do
    p=$(sed -n 's/^avm node [^:]*: listening on port \([0-9][0-9]*\)$/\1/p' "$tmp/$name.err")
    [ -n "$p" ] && break
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "FAIL: node $name did not start"; sed 's/^/  | /' "$tmp/$name.err"; exit 1
    fi
    sleep 0.05
  done
  eval "port_$name=$p"
}

# run_node NAME [ARG...]: runs node NAME in the foreground (with
# --exit-after-run among ARGs), at most 30 seconds; stdout and stderr in
# $tmp/NAME.out and $tmp/NAME.err, exit status in $status.
run_node() {
  name=$1; shift
  timeout 30 "$AVM" node --name "$name" --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  status=$?
}

# wait_for FILE PATTERN: until FILE has a line matching PATTERN (10 s at most).
wait_for() {
  i=0
  until grep -q -- "$2" "$1"; do
    i=$((i + 1))
    [ $i -gt 200 ] && { echo "FAIL: no line matching '$2' in $1"; sed 's/^/  | /' "$1"; fail=1; return 1; }
    sleep 0.05
  done
}
