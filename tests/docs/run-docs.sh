#!/bin/sh
# tests/docs/run-docs.sh — runs every example of one Markdown page with the
# built avm and checks its exact output, so the documentation cannot drift
# from the product.
#
# Usage: tests/docs/run-docs.sh [--] PAGE.md
#
# automake runs it as the LOG_COMPILER of the pages in docs/ (simple test
# protocol): exit 0 = every example passes, 1 = some example failed,
# 99 = hard error (no binary, malformed page).
#
# The conventions (docs/README.md explains them to writers):
#
# * An example program is a fenced block whose info string starts with
#   `avm`; words after it are attributes:
#       exit=N       expected exit status (default 0)
#       flag=F       an argument of `avm run` before the file (repeatable)
#       arg=A        an argument after `--`, for (command-line) (repeatable)
#       file=NAME    the name the program is saved and run under
#                    (default example.avm; diagnostics name it)
#   It must be followed (blank lines between are allowed) by an `output`
#   block: the exact stdout.  An optional `stderr` block right after that
#   is the exact stderr; without one stderr must be empty.  The program
#   runs as `avm run FLAG... NAME [-- ARG...]` in an empty temporary
#   directory, stdin from /dev/null.
# * A `console` block is a shell session: each line starting with `$ ` is
#   a command, the lines after it (up to the next command) its output,
#   stdout and stderr together.  The block runs with `sh` in a temporary
#   directory that holds a copy of examples/, with avm and avmc first in
#   PATH; each command must exit with status 0 (to show a failure, write
#   `avm run bad.avm; echo "exit status $?"`).
# * Any other block (```scheme, ```sh, ...) is not run.  If its info
#   string has a word from=PATH, the block must be an excerpt of the file
#   PATH (relative to the top of the source tree): its lines must appear
#   there, in a row, exactly.  Quotes of examples/ cannot drift either.
# Fences start in column 1: a line "```avm ..." opens an example, a line
# "```" closes it.
#
# The binaries are $AVM and $AVMC (set by the Makefile); when unset the
# script uses ../../avm and ../../avmc next to itself.

set -u -f
me=run-docs.sh

. "$(dirname "$0")/../driver-lib.sh"
take_test_arg PAGE.md "$@"
page=$test_path
[ -f "$page" ] && [ -r "$page" ] || hard_error "cannot read $page"

here=$(cd "$(dirname "$0")" && pwd) || hard_error "cannot locate $0"
top_srcdir=$(cd "$here/../.." && pwd)

# Absolute paths: each example runs in a directory of its own.
absolute() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    */*) printf '%s/%s\n' "$(cd "$(dirname "$1")" && pwd)" "$(basename "$1")" ;;
    *) command -v "$1" ;;
  esac
}
avm=$(absolute "${AVM:-$here/../../avm}") || hard_error "AVM=${AVM-}: not found"
avmc=$(absolute "${AVMC:-$here/../../avmc}") || hard_error "AVMC=${AVMC-}: not found"
[ -x "$avm" ] || hard_error "the avm binary was not found (set AVM; tried $avm)"
[ -x "$avmc" ] || hard_error "the avmc binary was not found (set AVMC; tried $avmc)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-docs.XXXXXX") || hard_error "mktemp failed"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

# avm and avmc by their plain names, for console blocks.
mkdir "$tmp/bin" && ln -s "$avm" "$tmp/bin/avm" && ln -s "$avmc" "$tmp/bin/avmc" ||
  hard_error "cannot set up $tmp/bin"

# {===== Extraction =====}
# awk splits the page into files under $tmp/x: for example N, N.avm, N.out,
# N.err (if any) and N.attr; for the K-th command of console block N,
# N.K.cmd and N.K.out.  The manifest lists them in page order:
#   avm N LINE       cmd N K LINE       excerpt N LINE PATH
# (an excerpt's text is in N.excerpt)
# Malformed pages make awk print "error: LINE: MESSAGE" and exit 2.
mkdir "$tmp/x" || hard_error "mkdir failed"
awk -v dir="$tmp/x" '
  function fail(line, msg) { print "error: " line ": " msg; failed = 1; exit 2 }
  function finish_example() {
    if (state == "want-output") fail(start, "example has no ```output block after it")
    state = "out"
  }
  BEGIN { state = "out"; n = 0 }
  {
    line = $0
    sub(/\r$/, "", line)
  }
  # inside a block: collect until the closing fence
  state == "avm" || state == "output" || state == "stderr" || state == "console" || state == "other" {
    if (line == "```") {
      if (state == "avm") state = "want-output"
      else if (state == "output") state = "want-stderr"
      else state = "out"
      next
    }
    if (state == "avm") print line > (dir "/" n ".avm")
    else if (state == "output") print line > (dir "/" n ".out")
    else if (state == "stderr") print line > (dir "/" n ".err")
    else if (state == "other" && excerpt) print line > (dir "/" n ".excerpt")
    else if (state == "console") {
      if (substr(line, 1, 2) == "$ ") {
        k++
        print substr(line, 3) > (dir "/" n "." k ".cmd")
        printf "" > (dir "/" n "." k ".out")
        print "cmd " n " " k " " NR > (dir "/manifest")
      } else if (k == 0) {
        fail(NR, "a console block must start with a \"$ \" command line")
      } else {
        print line > (dir "/" n "." k ".out")
      }
    }
    next
  }
  # between blocks
  /^```/ {
    info = substr(line, 4)
    split(info, words, /[ \t]+/)
    kind = words[1]
    if (state == "want-output") {
      if (kind != "output") fail(NR, "expected the ```output block of the example at line " start)
      state = "output"
      printf "" > (dir "/" n ".out")
      next
    }
    if (state == "want-stderr" && kind == "stderr") {
      state = "stderr"
      printf "" > (dir "/" n ".err")
      next
    }
    state = "out"
    if (kind == "avm") {
      n++
      start = NR
      attrs = info
      sub(/^avm[ \t]*/, "", attrs)
      print attrs > (dir "/" n ".attr")
      printf "" > (dir "/" n ".avm")
      print "avm " n " " NR > (dir "/manifest")
      state = "avm"
    } else if (kind == "console") {
      n++
      k = 0
      state = "console"
    } else if (kind == "output" || kind == "stderr") {
      fail(NR, "```" kind " block without an example before it")
    } else {
      state = "other"
      excerpt = 0
      for (j in words)
        if (words[j] ~ /^from=./) {
          n++
          excerpt = 1
          printf "" > (dir "/" n ".excerpt")
          print "excerpt " n " " NR " " substr(words[j], 6) > (dir "/manifest")
        }
    }
    next
  }
  state == "want-output" && line !~ /^[ \t]*$/ { fail(start, "example has no ```output block after it") }
  state == "want-stderr" && line !~ /^[ \t]*$/ { state = "out" }
  END {
    if (failed) exit 2
    if (state == "avm" || state == "output" || state == "stderr" || state == "console" || state == "other")
      fail(NR, "unclosed ``` block at end of file")
    if (state == "want-output") fail(start, "example has no ```output block after it")
  }
' "$page" >"$tmp/awk.out" 2>&1
case $? in
  0) ;;
  2) hard_error "$page:$(sed -n 's/^error: //p' "$tmp/awk.out" | head -n 1)" ;;
  *) cat "$tmp/awk.out"; hard_error "awk failed on $page" ;;
esac

# {===== Running =====}

if command -v timeout >/dev/null 2>&1; then
  run_limited() { timeout "${AVM_TEST_TIMEOUT:-60}" "$@"; }
else
  run_limited() { "$@"; }
fi

if diff -u --label a --label b /dev/null /dev/null >/dev/null 2>&1; then
  show_diff() { diff -u --label "expected $3" --label "actual $3" "$1" "$2"; }
else
  show_diff() { diff -u "$1" "$2"; }
fi

passed=0
failed=0

# fail_example LINE WHAT: reports a failed example
fail_example() {
  failed=$((failed + 1))
  echo "FAIL: $page:$1: $2"
}

# run_avm N LINE: runs example N (from line LINE of the page)
run_avm() {
  n=$1 line=$2
  x=$tmp/x/$n
  expect_exit=0 file=example.avm
  set --
  args=
  for a in $(cat "$x.attr"); do
    case $a in
      exit=*) expect_exit=${a#exit=} ;;
      flag=*) set -- "$@" "${a#flag=}" ;;
      arg=*) args="$args ${a#arg=}" ;;
      file=*) file=${a#file=} ;;
      *) hard_error "$page:$line: unknown example attribute '$a' (exit=, flag=, arg=, file=)" ;;
    esac
  done
  case $expect_exit in ''|*[!0-9]*) hard_error "$page:$line: exit= needs a number" ;; esac
  case $file in ''|*/*) hard_error "$page:$line: file= needs a plain file name" ;; esac
  work=$tmp/run$n
  mkdir "$work" && cp "$x.avm" "$work/$file" || hard_error "cannot set up $work"
  [ -f "$x.err" ] || : >"$x.err"
  if [ -n "$args" ]; then
    set -- "$@" "$file" --
    for a in $args; do set -- "$@" "$a"; done
  else
    set -- "$@" "$file"
  fi
  (cd "$work" && run_limited "$avm" run "$@" </dev/null >"$tmp/stdout" 2>"$tmp/stderr")
  status=$?
  bad=0
  if ! cmp -s "$x.out" "$tmp/stdout"; then
    [ $bad = 1 ] || fail_example "$line" "example (avm run $*)"
    bad=1
    echo "stdout differs:"
    show_diff "$x.out" "$tmp/stdout" stdout
  fi
  if ! cmp -s "$x.err" "$tmp/stderr"; then
    [ $bad = 1 ] || fail_example "$line" "example (avm run $*)"
    bad=1
    echo "stderr differs:"
    show_diff "$x.err" "$tmp/stderr" stderr
  fi
  if [ "$status" != "$expect_exit" ]; then
    [ $bad = 1 ] || fail_example "$line" "example (avm run $*)"
    bad=1
    echo "exit status: expected $expect_exit, got $status"
  fi
  [ $bad = 1 ] || passed=$((passed + 1))
}

# run_cmd N K LINE: runs command K of console block N
run_cmd() {
  n=$1 k=$2 line=$3
  work=$tmp/console$n
  if [ ! -d "$work" ]; then
    mkdir "$work" && cp -R "$top_srcdir/examples" "$work/examples" && chmod -R u+w "$work" ||
      hard_error "cannot set up $work"
  fi
  x=$tmp/x/$n.$k
  cmd=$(cat "$x.cmd")
  (cd "$work" && PATH=$tmp/bin:$PATH && export PATH && run_limited sh -c "$cmd" </dev/null >"$tmp/stdout" 2>&1)
  status=$?
  bad=0
  if ! cmp -s "$x.out" "$tmp/stdout"; then
    bad=1
    fail_example "$line" "\$ $cmd"
    echo "output differs:"
    show_diff "$x.out" "$tmp/stdout" output
  fi
  if [ "$status" != 0 ]; then
    [ $bad = 1 ] || fail_example "$line" "\$ $cmd"
    bad=1
    echo "exit status $status (a console command must succeed; add '; echo \"exit status \$?\"' to show a failure)"
  fi
  [ $bad = 1 ] || passed=$((passed + 1))
}

# check_excerpt N LINE PATH: block N (from line LINE) is an excerpt of PATH
check_excerpt() {
  source_file=$top_srcdir/$3
  [ -f "$source_file" ] || hard_error "$page:$2: from=$3: no such file in the source tree"
  if awk 'NR == FNR { want[++m] = $0; next }
          { have[++n] = $0 }
          END {
            for (i = 1; i + m - 1 <= n; i++) {
              for (j = 1; j <= m && have[i + j - 1] == want[j]; j++) ;
              if (j > m) exit 0
            }
            exit 1
          }' "$tmp/x/$1.excerpt" "$source_file"; then
    passed=$((passed + 1))
  else
    fail_example "$2" "this block is not an excerpt of $3 (its lines must appear there in a row, exactly)"
  fi
}

if [ -f "$tmp/x/manifest" ]; then
  while read -r kind a b c; do
    case $kind in
      avm) run_avm "$a" "$b" ;;
      cmd) run_cmd "$a" "$b" "$c" ;;
      excerpt) check_excerpt "$a" "$b" "$c" ;;
    esac
  done <"$tmp/x/manifest"
fi

echo "$page: $passed examples passed, $failed failed"
[ "$failed" = 0 ]
