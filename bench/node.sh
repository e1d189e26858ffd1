#!/bin/sh
# bench/node.sh — remote calls between avm nodes on loopback (issue 5):
# * a peer's calls to an object on a node, one at a time: round trips per
#   second and latency percentiles, next to raw loopback TCP round trips of
#   the same frames measured in the same run (bench/node-rtt.c);
# * a program on one node calling an object on another N times: the cost
#   of one remote call as a program sees it.
# Usage: bench/node.sh [BUILD_DIR] [N]
set -u
build=${1:-.}
n=${2:-20000}
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
"$tmp/node-rtt" "$beta" "$object" "$n" | tee "$tmp/rtt"
raw_us=$(awk '/^raw loopback/ { printf "%.2f", 1e6 / $4 }' "$tmp/rtt")
raw_p50=$(awk '/^raw loopback/ { print $8 }' "$tmp/rtt")

echo "== $n remote calls by a program on another node"
t0=$(date +%s%N)
"$avm" node --name alpha --port 0 --peer "beta@127.0.0.1:$beta" --load "$src/node-echo.avm" \
  --run "$src/node-flat.avm" --exit-after-run -- beta "$n" >/dev/null 2>&1
t1=$(date +%s%N)
"$avm" node --name alpha --port 0 --peer "beta@127.0.0.1:$beta" --load "$src/node-echo.avm" \
  --run "$src/node-flat.avm" --exit-after-run -- beta 0 >/dev/null 2>&1
t2=$(date +%s%N)
awk -v a="$((t1 - t0))" -v b="$((t2 - t1))" -v n="$n" -v raw="$raw_us" -v p50="$raw_p50" 'BEGIN {
  us = (a - b) / n / 1000
  printf "%.1f us per call (%.0f calls/s), start-up taken off\n", us, n * 1e9 / (a - b)
  printf "ratio to the raw round trip above: %.2f (to its mean, %.1f us), %.2f (to its p50)\n", us / raw, raw, us / p50
}'
