#!/bin/sh
# bench/node.sh — remote calls between avm nodes on loopback (issue 5):
# * a peer's calls to an object on a node, one at a time: round trips per
#   second and latency percentiles, next to raw loopback TCP round trips of
#   the same frames measured in the same run (bench/node-rtt.c);
# * a program on one node calling an object on another N times: the cost
#   of one remote call as a program sees it, over the raw round trip.
# Usage: bench/node.sh [BUILD_DIR] [N]   (NODE_BENCH_ROUNDS: rounds of the
# second, default 3)
set -u
build=${1:-.}
n=${2:-20000}
rounds=${NODE_BENCH_ROUNDS:-3}
avm="$build/avm"
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait; rm -rf "$tmp"' EXIT
${CC:-cc} -O2 -o "$tmp/node-rtt" "$src/node-rtt.c" || exit 1

# start NAME ARGS...: a node on a free port; its port in $port
start() {
  name=$1; shift
  "$avm" node --name "$name" --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids="$pids $!"
  port=""
  while [ -z "$port" ]; do
    sleep 0.05
    port=$(sed -n 's/^avm node [^:]*: listening on port \([0-9]*\)$/\1/p' "$tmp/$name.err")
  done
}

start beta --load "$src/node-echo.avm"
beta=$port
object=$(sed -n 's/^#<object \([0-9]*\)>$/\1/p' "$tmp/beta.out")
echo "== $n calls by a peer, one at a time"
"$tmp/node-rtt" "$beta" "$object" "$n"

# program_us N: the time per call of a program making N remote calls, the
# start-up (a run making none) taken off.
program_us() {
  t0=$(date +%s%N)
  "$avm" node --name alpha --port 0 --peer "beta@127.0.0.1:$beta" --load "$src/node-echo.avm" \
    --run "$src/node-flat.avm" --exit-after-run -- beta "$1" >/dev/null 2>&1
  t1=$(date +%s%N)
  "$avm" node --name alpha --port 0 --peer "beta@127.0.0.1:$beta" --load "$src/node-echo.avm" \
    --run "$src/node-flat.avm" --exit-after-run -- beta 0 >/dev/null 2>&1
  t2=$(date +%s%N)
  awk -v a="$((t1 - t0))" -v b="$((t2 - t1))" -v n="$1" 'BEGIN { printf "%.2f", (a - b) / n / 1000 }'
}

# A shared host's speed drifts within seconds, so the program's calls are
# measured in rounds, each next to a raw round trip measured just before
# it; the median round is reported.
echo "== $n remote calls by a program on another node, in $rounds rounds, each after a raw round trip"
r=0
while [ $r -lt "$rounds" ]; do
  "$tmp/node-rtt" "$beta" "$object" "$n" >"$tmp/rtt"
  raw=$(awk '/^raw loopback/ { printf "%.2f", 1e6 / $4 }' "$tmp/rtt")
  p50=$(awk '/^raw loopback/ { print $8 }' "$tmp/rtt")
  us=$(program_us "$n")
  echo "$us $raw $p50" | awk '{ printf "%.3f %s %s %s\n", $1 / $2, $1, $2, $3 }' >>"$tmp/rounds"
  r=$((r + 1))
done
sort -n "$tmp/rounds" | awk -v k="$rounds" 'NR == int((k + 1) / 2) {
  printf "%.1f us per call (%.0f calls/s); raw round trip %.1f us mean, %.1f us p50\n", $2, 1e6 / $2, $3, $4
  printf "ratio to the raw round trip: %.2f (to its mean), %.2f (to its p50); median of %d rounds\n", $1, $2 / $4, k
}'
