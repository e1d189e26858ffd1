#!/bin/sh
# tests/docs/selftest.sh — checks the documentation checks themselves: that
# run-docs.sh, check-names.sh and check-man.sh pass on good input and fail,
# with a message naming the culprit, on bad input.  Works on copies under
# ${TMPDIR:-/tmp}; needs the built avm and avmc ($AVM, $AVMC).
# Exit 0 when every check behaves, 1 otherwise.

set -u
here=$(cd "$(dirname "$0")" && pwd) || exit 99
top=$(cd "$here/../.." && pwd) || exit 99
avm=${AVM:-$here/../../avm}
avmc=${AVMC:-$here/../../avmc}
[ -x "$avm" ] && [ -x "$avmc" ] || { echo "selftest.sh: error: set AVM and AVMC to the built binaries"; exit 99; }
AVM=$avm AVMC=$avmc
export AVM AVMC

tmp=$(mktemp -d "${TMPDIR:-/tmp}/docs-selftest.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

n=0
fails=0

# expect NAME WANT-STATUS TEXT COMMAND...: runs COMMAND, which must exit
# with WANT-STATUS and print TEXT (a fixed string; empty: anything)
expect() {
  name=$1 want=$2 text=$3
  shift 3
  n=$((n + 1))
  "$@" >"$tmp/out" 2>&1
  status=$?
  if [ "$status" = "$want" ] && { [ -z "$text" ] || grep -qF -- "$text" "$tmp/out"; }; then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name (status $status, wanted $want; output should contain: $text)"
    sed 's/^/  | /' "$tmp/out"
    fails=$((fails + 1))
  fi
}

# {===== run-docs.sh =====}

page=$tmp/page.md
docs() { sh "$here/run-docs.sh" "$page"; }
fence='```'

cat >"$page" <<EOF
# good

${fence}avm
(+ 1 2)
${fence}

${fence}output
3
${fence}

${fence}avm exit=1 flag=--allow-unsafe arg=x arg=y
(display (command-line))
(newline)
(car (reflect (get-self)))
${fence}
${fence}output
(x y)
${fence}
${fence}stderr
example.avm:3:1: error: car: expected pair, got nothing
 (car (reflect (get-self)))
 ^~~~~~~~~~~~~~~~~~~~~~~~~~
${fence}

${fence}console
\$ avm run examples/ping-pong.avm -- 2
ping-pong up to 2: (just (done 2))
\$ avm run no-such.avm; echo "status \$?"
no-such.avm: error: cannot read file: No such file or directory
status 66
${fence}

${fence}scheme from=examples/ping-pong.avm
(behavior pong (msg)
  (match msg
${fence}

${fence}scheme
(not checked at all
${fence}
EOF
expect "a good page passes" 0 "$page: 5 examples passed, 0 failed" docs

printf '%savm\n(+ 1 2)\n%s\n\n%soutput\n4\n%s\n' "$fence" "$fence" "$fence" "$fence" >"$page"
expect "wrong stdout fails" 1 "FAIL: $page:1: example (avm run example.avm)" docs
expect "... with a diff" 1 "+3" docs

printf '%savm exit=1\n(car 1)\n%s\n%soutput\n%s\n%sstderr\nerror: car: bad\n%s\n' \
  "$fence" "$fence" "$fence" "$fence" "$fence" "$fence" >"$page"
expect "wrong stderr fails" 1 "stderr differs" docs

printf '%savm\n(car 1)\n%s\n%soutput\n%s\n' "$fence" "$fence" "$fence" "$fence" >"$page"
expect "unexpected stderr fails" 1 "+example.avm:1:1: error: car: expected pair, got 1" docs

printf '%savm exit=3\n(+ 1 2)\n%s\n%soutput\n3\n%s\n' "$fence" "$fence" "$fence" "$fence" >"$page"
expect "wrong exit status fails" 1 "exit status: expected 3, got 0" docs

printf '%savm file=named.avm exit=2\n(f)\n%s\n%soutput\n%s\n%sstderr\nnamed.avm:1:2: error: unbound variable '"'"'f'"'"'\n (f)\n  ^\n%s\n' \
  "$fence" "$fence" "$fence" "$fence" "$fence" "$fence" >"$page"
expect "file= names the program" 0 "1 examples passed" docs

printf '%sconsole\n$ echo one\ntwo\n%s\n' "$fence" "$fence" >"$page"
expect "wrong console output fails" 1 "FAIL: $page:2: \$ echo one" docs

printf '%sconsole\n$ false\n%s\n' "$fence" "$fence" >"$page"
expect "a failing console command fails" 1 "a console command must succeed" docs

printf '%sconsole\nno command\n%s\n' "$fence" "$fence" >"$page"
expect "a console block without a command is malformed" 99 "must start with" docs

printf '%sscheme from=examples/ping-pong.avm\n(behavior pong (message)\n%s\n' "$fence" "$fence" >"$page"
expect "a wrong excerpt fails" 1 "not an excerpt of examples/ping-pong.avm" docs

printf '%sscheme from=examples/no-such.avm\nx\n%s\n' "$fence" "$fence" >"$page"
expect "an excerpt of a missing file is an error" 99 "no such file" docs

printf '%savm\n(+ 1 2)\n%s\n\nprose\n' "$fence" "$fence" >"$page"
expect "an example without output block is an error" 99 "$page:1: example has no" docs

printf '%savm colour=red\n1\n%s\n%soutput\n1\n%s\n' "$fence" "$fence" "$fence" "$fence" >"$page"
expect "an unknown attribute is an error" 99 "unknown example attribute 'colour=red'" docs

printf '%savm\n(+ 1 2)\n' "$fence" >"$page"
expect "an unclosed block is an error" 99 "unclosed" docs

printf '%soutput\n3\n%s\n' "$fence" "$fence" >"$page"
expect "an output block alone is an error" 99 "without an example" docs

# {===== check-names.sh =====}

tree=$tmp/tree
fresh_tree() {
  rm -rf "$tree"
  mkdir -p "$tree/vm" "$tree/stdlib" "$tree/lang" "$tree/runtime" "$tree/docs" "$tree/man" "$tree/cli"
  for f in vm/prims.def vm/instrs.def stdlib/prelude.avm lang/keywords.def runtime/errors.def runtime/events.def \
           man/avm.1 man/avmc.1 cli/exitcodes.h; do
    cp "$top/$f" "$tree/$f" || exit 99
  done
  cp "$top"/docs/*.md "$tree/docs/" || exit 99
}
names() { DOCS_SRCDIR=$tree sh "$here/check-names.sh"; }
man_pages() { DOCS_SRCDIR=$tree sh "$here/check-man.sh"; }

fresh_tree
expect "the docs document every name" 0 "PASS" names

sed 's/^### `iota`$/### iota/' "$top/docs/procedures.md" >"$tree/docs/procedures.md"
expect "a procedure without heading fails" 1 "prelude procedure 'iota' has no heading" names

fresh_tree
sed "s/^(count odd? '(1 2 3 5))\$/(list 1)/" "$top/docs/procedures.md" >"$tree/docs/procedures.md"
expect "a section without example fails" 1 "'count': its section in docs/*.md has no" names

fresh_tree
echo 'PRIM(frob,           "frobnicate",     1,  1, NONE, PURE)' >>"$tree/vm/prims.def"
expect "a new primitive must be documented" 1 "pure procedure 'frobnicate' has no heading" names
expect "... and listed in the table" 1 "'frobnicate' has no row" names

fresh_tree
sed 's/^\(INSTR(CREATE_OBJ.*\), 20)$/\1, 25)/' "$top/vm/instrs.def" >"$tree/vm/instrs.def"
expect "a changed gas cost must be documented" 1 "expected 'create-obj|0|safe|25'" names

fresh_tree
sed 's/^(define (last l)$/(define (last l . more)/' "$top/stdlib/prelude.avm" >"$tree/stdlib/prelude.avm"
expect "a changed prelude arity must be documented" 1 "expected 'last|1 or more|prelude'" names

fresh_tree
echo 'ERR(FROBNICATED,            Obj,        "Frobnicated")' >>"$tree/runtime/errors.def"
expect "a new AVM error must be documented" 1 "AVM error 'Frobnicated'" names

fresh_tree
echo 'KW(frob,             "frobnicate",     KW_FORM)' >>"$tree/lang/keywords.def"
expect "a new keyword must be documented" 1 "keyword 'frobnicate' (lang/keywords.def)" names

# {===== check-man.sh =====}

fresh_tree
expect "the man pages cover --help" 0 "PASS" man_pages

sed 's/^\.BI \\-\\-gas " n"$/.BI \\-\\-budget " n"/' "$top/man/avm.1" >"$tree/man/avm.1"
expect "an undocumented option fails" 1 "does not document option --gas" man_pages

fresh_tree
sed 's/^\.B disasm$/.B disassemble/' "$top/man/avmc.1" >"$tree/man/avmc.1"
expect "an undocumented command fails" 1 "no '.B disasm' line in its COMMANDS section" man_pages

fresh_tree
awk '{ print } /^  X\(IOERR, 74,/ { print "  X(TEMPFAIL, 75, \"try again\")" }' \
  "$top/cli/exitcodes.h" >"$tree/cli/exitcodes.h"
expect "an undocumented exit status fails" 1 "does not list exit status 75" man_pages

# A command whose --help grew an option and a command.
fresh_tree
cat >"$tmp/grown-avm" <<EOF
#!/bin/sh
"$avm" "\$@"
echo "      --frobnicate    frobnicate"
echo "       avm frob"
EOF
chmod +x "$tmp/grown-avm"
expect "a new option in --help must be documented" 1 "does not document option --frobnicate" \
  env AVM="$tmp/grown-avm" DOCS_SRCDIR="$tree" sh "$here/check-man.sh"
expect "a new command in --help must be documented" 1 "for 'avm frob'" \
  env AVM="$tmp/grown-avm" DOCS_SRCDIR="$tree" sh "$here/check-man.sh"

if [ "$fails" -gt 0 ]; then
  echo "FAIL: $fails of $n checks of the documentation checks"
  exit 1
fi
echo "PASS: $n checks of the documentation checks"
