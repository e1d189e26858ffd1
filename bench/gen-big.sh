#!/bin/sh
# gen-big.sh N [OUT] -- write an N-line .avm program of varied, realistic
# code (defines, let/let*/named let, if/cond/case/when, match, arithmetic,
# lists, strings, higher-order calls, calls between functions) to OUT, or to
# stdout.  Used by run.sh to time `avmc build` on a large file.
# Only core forms and primitives from LANGUAGE.md are used.
set -e
n=${1:?usage: gen-big.sh N [OUT]}
case $n in
  ''|*[!0-9]*) echo "gen-big.sh: N must be a positive integer" >&2; exit 64 ;;
esac
if [ -n "$2" ]; then exec >"$2"; fi
awk -v N="$n" '
function add(s) { buf[nb++] = s }
# One group of related definitions, numbered j; it calls group j-1.
function group(j,   p) {
  nb = 0
  p = j - 1
  add(";; ---- group " j " ----------------------------------------------")
  add("(define (scale-" j " xs k)")
  add("  (let loop ((l xs) (acc (quote ())))")
  add("    (if (null? l)")
  add("        (reverse acc)")
  add("        (loop (cdr l) (cons (* k (car l)) acc)))))")
  add("")
  add("(define (classify-" j " n)")
  add("  (cond ((< n 0) (quote negative))")
  add("        ((= n 0) (quote zero))")
  add("        ((< n " (10 + j % 7) ") (quote small))")
  add("        ((< n " (1000 + j) ") (quote medium))")
  add("        (else (quote large))))")
  add("")
  add("(define (sum-" j " xs)")
  add("  (fold-left (lambda (acc x) (+ acc x)) 0 xs))")
  add("")
  add("(define (label-" j " n)")
  add("  (let* ((tag (symbol->string (classify-" j " n)))")
  add("         (num (number->string n)))")
  add("    (string-append tag \":\" num")
  add("                   \" (\" (number->string (string-length tag)) \")\")))")
  add("")
  add("(define (area-" j " s)")
  add("  (match s")
  add("    ((quote unit) 1)")
  add("    ((\x27square side) (* side side))")
  add("    ((\x27rect w h) (* w h))")
  add("    ((\x27tri b h) (quotient (* b h) 2))")
  add("    ((\x27many first . rest) (+ (area-" j " first) (length rest)))")
  add("    (_ 0)))")
  add("")
  add("(define table-" j)
  add("  (list (cons \"alpha\" " j ") (cons \"beta\" " (j + 1) ")")
  add("        (cons \"gamma\" " (2 * j) ") (cons \"delta-" j "\" " (j % 13) ")))")
  add("")
  add("(define (lookup-" j " key)")
  add("  (let ((hit (assoc key table-" j ")))")
  add("    (if hit (cdr hit) -1)))")
  add("")
  add("(define (weekday-" j " d)")
  add("  (case (modulo d 7)")
  add("    ((0 6) \"weekend\")")
  add("    ((1) \"monday\")")
  add("    (else (substring \"weekday\" 0 " (3 + j % 5) "))))")
  add("")
  add("(define (process-" j " xs)")
  add("  (let ((scaled (scale-" j " xs " (2 + j % 5) "))")
  add("        (evens (filter (lambda (x) (= (remainder x 2) 0)) xs)))")
  add("    (if (null? evens)")
  add("        (list (quote none) (sum-" j " scaled))")
  add("        (list (label-" j " (sum-" j " evens))")
  add("              (length scaled)")
  add("              (sum-" j " (map (lambda (x) (+ x " j ")) evens))")
  add("              (weekday-" j " (car evens))))))")
  add("")
  add("(define (chain-" j " n)")
  add("  (when (< n 0) (error \"chain-" j ": negative\" n))")
  add("  (let ((base (+ (sum-" j " (list n 1 2)) (lookup-" j " \"beta\")")
  add("                 (area-" j " (list (quote rect) n " (j % 9 + 1) ")))))")
  if (j > 1) {
    add("    (if (and (> n 0) (not (equal? (classify-" j " n) (quote large))))")
    add("        (+ base (chain-" p " (- n 1)))")
    add("        base)))")
  } else {
    add("    (if (or (= n 0) (> n 100)) base (+ base (chain-1 (- n 1))))))")
  }
  add("")
}
BEGIN {
  count = 0; g = 0
  while (1) {
    group(g + 1)
    if (count + nb + 1 > N) break
    for (i = 0; i < nb; i++) print buf[i]
    count += nb; g++
  }
  # pad with one-line definitions up to N-1 lines, then the final expression
  c = 0
  while (count < N - 1) {
    c++
    if (c % 3 == 1)      print "(define const-" c " (+ " c " (* 2 " c ")))"
    else if (c % 3 == 2) print "(define (twice-" c " x) (list x x \"" c "\"))"
    else                 print "(define str-" c " (string-append \"k\" (number->string " c ")))"
    count++
  }
  if (N >= 1) {
    if (g > 0)
      print "(list (process-" g " (list 1 2 3 4 5 6)) (chain-" g " 7) (area-" g " (quote (many (square 3) 1 2))))"
    else
      print "(+ 1 2)"
  }
}'
