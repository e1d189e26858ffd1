#!/bin/sh
# tests/docs/check-names.sh — fails when a name the product defines is not
# documented in docs/*.md.  The names come from the tables themselves, never
# from a second list:
#   vm/prims.def       PRIM(cname, "name", min, max, fast, PURE|EFFECT)
#   vm/instrs.def      INSTR(id, "name", min, max, layer, SAFE|UNSAFE, family, gas)
#   stdlib/prelude.avm every top-level (define (name ...) ...)
#   lang/keywords.def  KW(ident, "name", kind), the reserved words
#   runtime/errors.def ERR(id, family, "Name"), the AVM errors
#   runtime/events.def EV(id, "Name", text), the trace events
#
# Documented means:
# * every primitive, instruction and prelude procedure has a heading that
#   names it in backquotes (### `car`), and the section under that heading
#   (up to the next heading) holds an ```avm example that uses the name;
# * every primitive and prelude procedure has a row in a procedure table,
#   | `name` | ARGUMENTS | KIND |, whose arity and kind (pure, effect,
#   prelude) agree with the definition; ARGUMENTS is N, "N or M",
#   "N to M" or "N or more";
# * every instruction has a row | `name` | LAYER | SAFETY | GAS | whose
#   layer, safety (safe/unsafe) and gas agree with vm/instrs.def;
# * every keyword appears in backquotes somewhere in docs/guide.md;
# * every AVM error and trace event name appears in backquotes somewhere in
#   docs/*.md.
# Exit 0 if all is documented, 1 otherwise (one line per missing name).

set -u -f
here=$(cd "$(dirname "$0")" && pwd) || exit 99
# DOCS_SRCDIR: another source tree to check (tests/docs/selftest.sh)
top=${DOCS_SRCDIR:-$(cd "$here/../.." && pwd)} || exit 99
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-names.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

for f in vm/prims.def vm/instrs.def stdlib/prelude.avm lang/keywords.def runtime/errors.def runtime/events.def \
  docs/guide.md; do
  [ -r "$top/$f" ] || { echo "check-names.sh: error: cannot read $top/$f"; exit 99; }
done
set +f
pages=$(ls "$top"/docs/*.md)
set -f

# {===== The names, with what the docs must say about them =====}

# arity MIN MAX -> the ARGUMENTS column
arity_awk='
function arity(mn, mx) {
  if (mx == -1) return mn " or more"
  if (mn == mx) return mn
  if (mx == mn + 1) return mn " or " mx
  return mn " to " mx
}'

# name<TAB>arguments<TAB>kind, for primitives and prelude procedures
awk -F'[ \t]*,[ \t]*' "$arity_awk"'
  /^PRIM\(/ {
    name = $2; gsub(/"/, "", name)
    kind = $6; sub(/\).*/, "", kind)
    print name "\t" arity($3 + 0, $4 + 0) "\t" tolower(kind)
  }' "$top/vm/prims.def" >"$tmp/procs"
awk "$arity_awk"'
  /^\(define \(/ {
    line = $0
    sub(/^\(define \(/, "", line)
    sub(/\).*/, "", line)
    n = split(line, w, /[ \t]+/)
    fixed = 0; rest = 0
    for (j = 2; j <= n; j++) {
      if (w[j] == ".") { rest = 1; break }
      fixed++
    }
    print w[1] "\t" arity(fixed, rest ? -1 : fixed) "\tprelude"
  }
  /^\(define [^(]/ { split($0, w, /[ \t()]+/); print w[3] "\t-\tprelude" }' \
  "$top/stdlib/prelude.avm" >>"$tmp/procs"

# name<TAB>layer<TAB>safety<TAB>gas, for instructions
awk -F'[ \t]*,[ \t]*' '
  /^INSTR\(/ {
    name = $2; gsub(/"/, "", name)
    gas = $8; sub(/\).*/, "", gas)
    print name "\t" $5 + 0 "\t" tolower($6) "\t" gas + 0
  }' "$top/vm/instrs.def" >"$tmp/instrs"

# keywords of the surface language: special forms, declarations, auxiliary words
sed -n 's/^KW([a-z_]*, *"\([^"]*\)", *KW_[A-Z]*).*/\1/p' "$top/lang/keywords.def" >"$tmp/keywords"

# AVM errors and trace events
sed -n 's/^ERR([A-Z_]*, *[A-Za-z]*, *"\([A-Za-z]*\)").*/\1/p' "$top/runtime/errors.def" >"$tmp/errors"
sed -n 's/^EV([A-Z_]*, *"\([A-Za-z]*\)".*/\1/p' "$top/runtime/events.def" >"$tmp/events"

for f in procs instrs keywords errors events; do
  [ -s "$tmp/$f" ] || { echo "check-names.sh: error: no names extracted for $f"; exit 99; }
done

# {===== What the pages say =====}
# sections: NAME<TAB>1 if its section has an avm example using it, else 0
# rows:     the cells of every table row whose first cell is `NAME`
awk -v sections="$tmp/sections" -v rows="$tmp/rows" '
  function flush(   j) {
    for (j = 1; j <= nnames; j++) {
      used = 0
      if (code != "") {
        s = " " code " "
        # the name as a token: delimited by blanks, parentheses, quotes
        pat = names[j]
        gsub(/[][\\^$.|?*+(){}]/, "\\\\&", pat)
        if (s ~ ("[ \t\n()\047`,]" pat "[ \t\n()]")) used = 1
      }
      print names[j] "\t" used > sections
    }
    nnames = 0; code = ""
  }
  /^```/ {
    if (inblock) { inblock = 0; next }
    inblock = 1; isavm = ($0 ~ /^```avm([ \t]|$)/); next
  }
  inblock { if (isavm) code = code "\n" $0; next }
  /^#+[ \t]/ {
    flush()
    h = $0
    while (match(h, /`[^`]+`/)) {
      names[++nnames] = substr(h, RSTART + 1, RLENGTH - 2)
      h = substr(h, RSTART + RLENGTH)
    }
    next
  }
  /^\|[ \t]*`[^`]+`[ \t]*\|/ {
    n = split($0, cell, /[ \t]*\|[ \t]*/)
    out = ""
    for (j = 2; j < n; j++) { c = cell[j]; if (j == 2) gsub(/`/, "", c); out = out (j > 2 ? "\t" : "") c }
    print out > rows
  }
  END { flush() }' $pages
touch "$tmp/sections" "$tmp/rows"

# {===== Compare =====}
missing=0
miss() { echo "undocumented: $*"; missing=$((missing + 1)); }

has_heading() { awk -F'\t' -v n="$1" '$1 == n { found = 1 } END { exit !found }' "$tmp/sections"; }
has_example() { awk -F'\t' -v n="$1" '$1 == n && $2 == 1 { found = 1 } END { exit !found }' "$tmp/sections"; }
row_of() { awk -F'\t' -v n="$1" '$1 == n { print; exit }' "$tmp/rows"; }

check_section() {
  if ! has_heading "$2"; then
    miss "$1 '$2' has no heading in docs/*.md (### \`$2\`)"
  elif ! has_example "$2"; then
    miss "$1 '$2': its section in docs/*.md has no \`\`\`avm example that uses it"
  fi
}

tab=$(printf '\t')
while IFS="$tab" read -r name args kind; do
  check_section "$kind procedure" "$name"
  row=$(row_of "$name")
  if [ -z "$row" ]; then
    miss "'$name' has no row | \`$name\` | $args | $kind | in a procedure table of docs/*.md"
  elif [ "$args" != - ]; then
    want="$name$tab$args$tab$kind"
    got=$(printf '%s\n' "$row" | cut -f1-3)
    [ "$got" = "$want" ] || miss "the table row of '$name' says '$(echo "$got" | tr '\t' '|')', expected '$(echo "$want" | tr '\t' '|')'"
  fi
done <"$tmp/procs"

while IFS="$tab" read -r name layer safety gas; do
  check_section "AVM instruction" "$name"
  row=$(row_of "$name")
  want="$name$tab$layer$tab$safety$tab$gas"
  if [ -z "$row" ]; then
    miss "instruction '$name' has no row | \`$name\` | $layer | $safety | $gas | in docs/*.md"
  elif [ "$(printf '%s\n' "$row" | cut -f1-4)" != "$want" ]; then
    miss "the table row of '$name' says '$(echo "$row" | cut -f1-4 | tr '\t' '|')', expected '$(echo "$want" | tr '\t' '|')' (vm/instrs.def)"
  fi
done <"$tmp/instrs"

while read -r kw; do
  grep -qF "\`$kw\`" "$top/docs/guide.md" || miss "keyword '$kw' (lang/keywords.def) does not appear as \`$kw\` in docs/guide.md"
done <"$tmp/keywords"

cat $pages >"$tmp/all-pages"
while read -r name; do
  grep -qF "\`$name\`" "$tmp/all-pages" || miss "AVM error '$name' (runtime/errors.def) does not appear as \`$name\` in docs/*.md"
done <"$tmp/errors"
while read -r name; do
  grep -qF "\`$name\`" "$tmp/all-pages" || miss "trace event '$name' (runtime/events.def) does not appear as \`$name\` in docs/*.md"
done <"$tmp/events"

total=0
for f in procs instrs keywords errors events; do total=$((total + $(wc -l <"$tmp/$f"))); done
if [ "$missing" -gt 0 ]; then
  echo "FAIL: $missing problems in the documentation of $total names (see tests/docs/check-names.sh)"
  exit 1
fi
echo "PASS: all $total names of vm/prims.def, vm/instrs.def, stdlib/prelude.avm, the keywords, errors and trace events are documented"
