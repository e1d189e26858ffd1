#!/bin/sh
# bench/run.sh [BUILD_DIR] -- run the avm / Lua 5.4 / Guile 3.0 benchmarks
# side by side and print one table row per program.
#
#   BUILD_DIR       directory holding the avm and avmc binaries (default .)
#   BENCH_RUNS      timed runs per program and language (default 5)
#   BENCH_PROGRAMS  programs to run (default "fib loop closures lists strings")
#   BENCH_TIMEOUT   seconds allowed per run, if timeout(1) exists (default 300)
#   BENCH_BIG_LINES lines of the generated file avmc builds (default 10000)
#
# Each cell is the median wall time in ms of BENCH_RUNS runs.  Every run's
# stdout must be exactly the expected result line; a wrong result ("BAD"),
# a non-zero exit status or a timeout ("FAIL") makes the script exit 1 once
# the table is printed.  A missed goal is reported but is not an error.
# A column whose tool is missing prints "n/a" (Lua and Guile are installed
# with apt-get when we run as root).

BUILD=${1:-.}
RUNS=${BENCH_RUNS:-5}
PROGRAMS=${BENCH_PROGRAMS:-"fib loop closures lists strings"}
TIMEOUT=${BENCH_TIMEOUT:-300}
BIG_LINES=${BENCH_BIG_LINES:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
AVM=$BUILD/avm
AVMC=$BUILD/avmc

tmp=$(mktemp -d "${TMPDIR:-/tmp}/avm-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
: >"$tmp/notes"
status=0

note() { printf '%s\n' "$*" >>"$tmp/notes"; }

# ---- the other languages -------------------------------------------------
find_tools() {
  LUA=$(command -v lua5.4 2>/dev/null)
  GUILE=$(command -v guile-3.0 2>/dev/null || command -v guile 2>/dev/null)
}
find_tools
if { [ -z "$LUA" ] || [ -z "$GUILE" ]; } && [ "$(id -u)" = 0 ] &&
   command -v apt-get >/dev/null 2>&1; then
  echo "bench: installing lua5.4 and guile-3.0 with apt-get ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y lua5.4 guile-3.0 >"$tmp/apt.log" 2>&1 ||
    { apt-get update >>"$tmp/apt.log" 2>&1 &&
      apt-get install -y lua5.4 guile-3.0 >>"$tmp/apt.log" 2>&1; } ||
    { echo "bench: apt-get failed:" >&2; tail -5 "$tmp/apt.log" >&2; }
  find_tools
fi
[ -n "$LUA" ] || note "lua5.4 not found: Lua column skipped (n/a)"
[ -n "$GUILE" ] || note "guile-3.0 / guile not found: Guile column skipped (n/a)"

# Guile auto-compiles a script into its cache on the first run; use a fresh
# cache, and an untimed warm-up run per program so timed runs use the .go.
XDG_CACHE_HOME=$tmp/cache
export XDG_CACHE_HOME
unset GUILE_AUTO_COMPILE

# ---- timing --------------------------------------------------------------
if [ "$(date +%N 2>/dev/null)" != "" ] && [ "$(date +%N)" != N ] &&
   [ "$(date +%N)" != "%N" ]; then
  now_ns() { date +%s%N; }
elif command -v perl >/dev/null 2>&1; then
  now_ns() { perl -MTime::HiRes=time -e 'printf "%.0f\n", time() * 1e9'; }
else
  now_ns() { echo "$(date +%s)000000000"; }
  note "no sub-second clock found: times are whole seconds"
fi

if command -v timeout >/dev/null 2>&1; then
  limited() { timeout "$TIMEOUT" "$@"; }
else
  limited() { "$@"; }
fi

median() {
  sort -n | awk '{ a[NR] = $1 }
    END { if (NR == 0) exit 1
          if (NR % 2) print a[(NR + 1) / 2]
          else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# bench LABEL EXPECTED CMD ARG...: run CMD $RUNS times; set CELL to the median
# wall time in ms, or to FAIL / BAD (and note why).  EXPECTED "" skips the
# stdout check.
bench() {
  b_label=$1 b_expected=$2
  shift 2
  : >"$tmp/times"
  b_i=0
  while [ "$b_i" -lt "$RUNS" ]; do
    t0=$(now_ns)
    limited "$@" <"/dev/null" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    t1=$(now_ns)
    if [ "$rc" -ne 0 ]; then
      CELL=FAIL status=1
      if [ "$rc" -eq 124 ]; then
        note "FAIL $b_label: timed out after ${TIMEOUT}s"
      else
        note "FAIL $b_label: exit status $rc: $*"
        sed -n '1,5s/^/    /p' "$tmp/err" >>"$tmp/notes"
      fi
      return
    fi
    if [ -n "$b_expected" ] &&
       ! printf '%s\n' "$b_expected" | cmp -s - "$tmp/out"; then
      CELL=BAD status=1
      note "MISMATCH $b_label: expected '$b_expected', got:"
      sed -n '1,5s/^/    /p' "$tmp/out" >>"$tmp/notes"
      return
    fi
    echo $(((t1 - t0) / 1000000)) >>"$tmp/times"
    b_i=$((b_i + 1))
  done
  CELL=$(median <"$tmp/times")
}

is_num() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# ---- the table -----------------------------------------------------------
row() { printf '| %-10s | %8s | %8s | %8s | %8s | %-16s |\n' "$@"; }

expected_of() {
  case $1 in
    fib) echo 9227465 ;;
    loop) echo 5000000050000000 ;;
    closures) echo 100000010000000 ;;
    lists) echo 1500001500000 ;;
    strings) echo 1958894 ;;
  esac
}
goal_of() {
  case $1 in
    fib | loop) echo 1.0 ;;
    *) echo 1.5 ;;
  esac
}

avm_ok=1
if [ ! -x "$AVM" ]; then
  avm_ok=0 status=1
  note "FAIL avm: $AVM not found or not executable (build it first)"
fi

echo "avm vs Lua 5.4 vs Guile 3.0: median wall time of $RUNS runs, in ms"
echo "(avm: $AVM${LUA:+, Lua: $LUA}${GUILE:+, Guile: $GUILE})"
echo
row program "avm ms" "Lua ms" "Guile ms" "avm/Lua" goal
row ---------- -------- -------- -------- -------- ----------------

for p in $PROGRAMS; do
  expected=$(expected_of "$p")
  goal=$(goal_of "$p")
  if [ -z "$expected" ] || [ ! -f "$HERE/$p.avm" ]; then
    note "unknown program '$p' skipped"
    continue
  fi

  if [ "$avm_ok" = 1 ]; then
    bench "$p (avm)" "$expected" "$AVM" run "$HERE/$p.avm"
    a=$CELL
  else
    a=FAIL
  fi

  if [ -n "$LUA" ]; then
    bench "$p (Lua)" "$expected" "$LUA" "$HERE/$p.lua"
    l=$CELL
  else
    l=n/a
  fi

  if [ -n "$GUILE" ]; then
    "$GUILE" "$HERE/$p.scm" </dev/null >/dev/null 2>&1   # warm-up: compile
    bench "$p (Guile)" "$expected" "$GUILE" "$HERE/$p.scm"
    g=$CELL
  else
    g=n/a
  fi

  if is_num "$a" && is_num "$l" && [ "$l" -gt 0 ]; then
    ratio=$(awk -v a="$a" -v l="$l" 'BEGIN { printf "%.2f", a / l }')
    verdict=$(awk -v r="$ratio" -v g="$goal" \
      'BEGIN { print (r + 0 <= g + 0) ? "ok" : "MISSED" }')
  else
    ratio=-
    verdict=-
  fi
  row "$p" "$a" "$l" "$g" "$ratio" "<= $goal $verdict"
done

# ---- compile time of a big file ------------------------------------------
if [ "$BIG_LINES" -gt 0 ] 2>/dev/null; then
  label="build-$((BIG_LINES / 1000))k"
  [ $((BIG_LINES % 1000)) = 0 ] || label="build-$BIG_LINES"
  sh "$HERE/gen-big.sh" "$BIG_LINES" "$tmp/big.avm"
  if [ ! -x "$AVMC" ]; then
    b=FAIL status=1
    note "FAIL avmc: $AVMC not found or not executable (build it first)"
  else
    bench "$label (avmc build)" "" "$AVMC" build "$tmp/big.avm" -o "$tmp/big.avmb"
    b=$CELL
    if is_num "$b" && [ ! -s "$tmp/big.avmb" ]; then
      b=FAIL status=1
      note "FAIL $label: avmc build exited 0 but wrote no $tmp/big.avmb"
    fi
  fi
  if is_num "$b"; then
    verdict=$([ "$b" -lt 200 ] && echo ok || echo MISSED)
  else
    verdict=-
  fi
  row "$label" "$b" - - - "< 200 ms $verdict"
fi

if [ -s "$tmp/notes" ]; then
  echo
  cat "$tmp/notes"
fi
if [ "$status" -ne 0 ]; then
  echo
  echo "*** bench: FAILURES or WRONG RESULTS above (FAIL / BAD cells) ***"
fi
exit "$status"
