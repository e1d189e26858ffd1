#!/bin/sh
# tests/fuzz/build.sh — builds tests/fuzz/fuzz_loader with libFuzzer, ASan
# and UBSan against the project sources.  Needs a configured and built
# tree (for config.h and the generated lang/parser.c, lang/lexer.c and
# stdlib/prelude.inc): run it from the top build directory.
#   usage: tests/fuzz/build.sh [--precise] [OUTPUT]   (default: ./fuzz_loader)
# --precise replaces Boehm GC with tests/fuzz/gcshim (malloc'd blocks that
# ASan can bound, freed after each input): slower, but an out-of-bounds
# access to a GC object is reported instead of reading its neighbour.
set -eu
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
precise=
if [ "${1-}" = "--precise" ]; then precise=1; shift; fi
out=${1:-./fuzz_loader}
CC=${CC:-clang}
for f in config.h lang/parser.c lang/lexer.c stdlib/prelude.inc; do
  [ -f "$f" ] || { echo "build.sh: $f missing: run from a built tree (make first)" >&2; exit 1; }
done
# Every library source except the CLI and the generated files (taken from
# the build directory).
srcs=$(sed -n '/^libavm_a_SOURCES/,/^$/p' "$srcdir/Makefile.am" | tr ' \\\t' '\n\n\n' | grep '\.c$' | grep -v '^cli/')
set --
for s in $srcs; do set -- "$@" "$srcdir/$s"; done
if [ -n "$precise" ]; then
  set -- -DAVM_FUZZ_GCSHIM -I"$srcdir/tests/fuzz/gcshim" "$srcdir/tests/fuzz/gcshim/gcshim.c" "$@"
  gclib=
else
  gclib=-lgc
fi
$CC -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Wno-unused-command-line-argument \
  -I. -I"$srcdir" \
  "$srcdir/tests/fuzz/fuzz_loader.c" "$@" lang/parser.c lang/lexer.c \
  $gclib -lz -lm -o "$out"
echo "built $out"
