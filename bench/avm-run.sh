#!/bin/sh
# bench/avm-run.sh — the AVM-layer benchmarks (issue 3): median and best of
# 5 runs of each bench/avm-*.avm program with the trace on (written to
# /dev/null) and off, peak memory, and the reference implementation's
# figures.  A shared host's speed drifts from run to run: the best run is
# the one least slowed by other work, and fib.avm's time in the same run
# tells how fast the host was.
# Usage: bench/avm-run.sh [BUILD_DIR]
set -u
build=${1:-.}
avm="$build/avm"
src=$(dirname "$0")
runs=${BENCH_RUNS:-5}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

now_ms() { date +%s%N | awk '{printf "%.0f", $1 / 1000000}'; }

# time_run FLAG ARGS...: prints "median_ms best_ms peak_kb" of $runs runs
time_run() {
  times="" peak=0
  i=0
  flag=$1
  shift
  while [ $i -lt "$runs" ]; do
    t0=$(now_ms)
    /usr/bin/time -o "$tmp" -f '%M' "$avm" run $flag "$@" >/dev/null 2>&1
    kb=$(tail -1 "$tmp")
    t1=$(now_ms)
    times="$times $((t1 - t0))"
    [ "${kb:-0}" -gt "$peak" ] 2>/dev/null && peak=$kb
    i=$((i + 1))
  done
  echo $times | tr ' ' '\n' | sort -n | awk -v peak="$peak" '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], peak}' 
}

# per_unit MS N UNITS: the cost of one unit, start-up (a run of an empty
# program, measured the same way) taken off.
per_unit() {
  awk -v ms="$1" -v base="$base" -v n="$2" -v u="$3" \
    'BEGIN { d = ms - base; if (d < 0) d = 0; printf "%.0f ns/%s", d * 1e6 / n, u }'
}

FMT='| %-28s | %7s | %7s | %-16s | %-16s | %7s | %7s | %-16s | %-16s | %-30s | %-26s |\n'

row() {  # row LABEL UNITS PER_RUN REFERENCE GOAL -- ARGS
  label=$1 units=$2 per=$3 ref=$4 goal=$5
  shift 6
  set -- $(time_run --trace "$@") $(time_run "" "$@")
  ms=$1 best=$2 kb=$3 ms0=$4 best0=$5 kb0=$6
  printf "$FMT" "$label" "$ms" "$((kb / 1024))" "$(per_unit "$ms" "$per" "$units")" "$(per_unit "$best" "$per" "$units")" \
    "$ms0" "$((kb0 / 1024))" "$(per_unit "$ms0" "$per" "$units")" "$(per_unit "$best0" "$per" "$units")" "$ref" "$goal"
}

if [ ! -x "$avm" ]; then
  echo "bench/avm-run.sh: no avm binary in $build" >&2
  exit 1
fi
empty=$(mktemp --suffix=.avm)
trap 'rm -f "$tmp" "$empty"' EXIT
echo 0 >"$empty"
set -- $(time_run "" "$empty")
base=$1
set -- $(time_run "" "$src/fib.avm")
echo
echo "AVM layer: $runs runs each, with --trace (the whole trace printed, to /dev/null) and without;"
echo "per unit: the run's time less start-up ($base ms, a run of an empty program), over the units,"
echo "for the median run and the best; the host's speed meanwhile: fib.avm in $1 ms (median), $2 ms (best)"
echo
printf "$FMT" program "ms" "MB" "per unit" "per unit" "ms" "MB" "per unit" "per unit" "reference (Rust, release)" goal
printf "$FMT" "" "trace" "trace" "(trace)" "(trace, best)" "no trace" "no trace" "(no trace)" "(no trace, best)" "" ""
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------------ --------- --------- ------------------ ------------------ --------- --------- ------------------ ------------------ -------------------------------- ----------------------------
row "flat calls (10^6), echo" call 1000000 "461 ns/call" "< 90 ns/call" -- "$src/avm-flat-echo.avm"
row "flat calls, counter object" call 1000000 "" "(get-state + set-state each)" -- "$src/avm-flat-calls.avm"
row "PingPong, max 10^6 (nested)" call 1000000 "2.56 ms/call at depth 10^4" "< 1 s, < 512 MB" -- "$src/avm-ping-pong.avm"
row "10^5 commits" commit 100000 "13 k/s (1,000 objects)" ">= 1 M/s" -- "$src/avm-commits.avm"
row "10^5 commits, 10^5 objects" commit 100000 "95/s (100,000 objects)" "independent of store size" -- "$src/avm-commits.avm" -- 100000
row "Battleship scenario x10^5" run 100000 "300 k runs/s" ">= 1.5 M runs/s" -- "$src/avm-battleship.avm"
