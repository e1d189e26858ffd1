#!/bin/sh
# tests/docs/installcheck.sh — checks an installed avm (make installcheck,
# and so make distcheck): the installed binaries run a program from a
# temporary directory outside the source and build trees (so only the
# prelude built into them can serve), avmc's bytecode runs, and the
# prelude, man pages and documentation are where they belong.
#
# Usage: installcheck.sh BINDIR PKGDATADIR MANDIR DOCDIR SRCDIR
# Exit 0 if the installation works, 1 otherwise.

set -u
[ $# -eq 5 ] || { echo "usage: $0 BINDIR PKGDATADIR MANDIR DOCDIR SRCDIR" >&2; exit 99; }
bindir=$1 pkgdatadir=$2 mandir=$3 docdir=$4 srcdir=$5

problems=0
problem() { echo "installcheck: FAIL: $*"; problems=$((problems + 1)); }

for b in avm avmc; do
  [ -x "$bindir/$b" ] || { echo "installcheck: FAIL: $bindir/$b is not installed"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/avm-installcheck.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 99

# A program that needs the prelude (map, iota, from-just) and the AVM.
cat >hello.avm <<'EOF'
(behavior greeter (name) (string-append "hello, " name))
(define g (create-obj 'greeter))
(display (from-just (call g "installed avm")))
(newline)
(map (lambda (x) (* x x)) (iota 4))
EOF
printf 'hello, installed avm\n(0 1 4 9)\n' >expected

# run WHAT COMMAND...: runs a command, expecting exactly the program's output
run() {
  what=$1
  shift
  "$@" >out 2>err
  status=$?
  [ "$status" = 0 ] || problem "$what: exit status $status: $(cat err)"
  cmp -s expected out || { problem "$what: wrong output:"; diff expected out; }
  [ -s err ] && problem "$what: unexpected standard error: $(cat err)"
}

run "avm run hello.avm" "$bindir/avm" run hello.avm
"$bindir/avmc" build hello.avm -o hello.avmb || problem "avmc build hello.avm failed"
run "avm run hello.avmb" "$bindir/avm" run hello.avmb
run "avm hello.avm" "$bindir/avm" ./hello.avm

for b in avm avmc; do
  "$bindir/$b" --version >out 2>&1 && grep -q "^$b (AVM) " out || problem "$b --version: $(cat out)"
done

# What make install puts beside the binaries.
[ -f "$pkgdatadir/prelude.avm" ] || problem "$pkgdatadir/prelude.avm is not installed"
cmp -s "$pkgdatadir/prelude.avm" "$srcdir/stdlib/prelude.avm" ||
  problem "$pkgdatadir/prelude.avm differs from stdlib/prelude.avm"
for m in avm.1 avmc.1; do
  if [ ! -f "$mandir/man1/$m" ]; then
    problem "$mandir/man1/$m is not installed"
  elif command -v groff >/dev/null 2>&1; then
    # plain text: no bold or underline
    groff -man -Tutf8 -ww -P-c -P-b -P-u "$mandir/man1/$m" >out 2>err || problem "groff cannot format $m"
    [ -s err ] && problem "groff warns about $m: $(cat err)"
    grep -q "^ *${m%.1} - " out && grep -q '^SYNOPSIS' out || problem "$m does not format to a man page"
  fi
done
for page in "$srcdir"/docs/*.md; do
  name=$(basename "$page")
  cmp -s "$page" "$docdir/$name" || problem "$docdir/$name is not installed"
done

if [ "$problems" -gt 0 ]; then
  echo "installcheck: $problems problems"
  exit 1
fi
echo "installcheck: PASS: avm, avmc, the prelude, the man pages and the documentation are installed and work"
