#!/bin/sh
# tests/node/fetch.sh — fetch between nodes: an object on another machine
# is moved here (the holder sends it, the directories follow); one that
# is gone gives #f and the trace says why; inside a transaction it is an
# error, as move-object is.
. "$(dirname "$0")/lib.sh"

cat >"$tmp/fetch.avm" <<'AVM'
(behavior cell (m)
  (match m
    ('get (car (get-state)))
    (('set v) (set-state (list v)) v)))
(define c (create-obj 'cell))
(call c '(set 42))
(define gone (create-obj 'cell))
(destroy-obj gone)
(teleport 'beta)
(list (get-machine c) (fetch c) (get-machine c) (call c 'get) (fetch gone) (fetch c))
AVM
start beta --trace
run_node alpha --peer "beta@127.0.0.1:$port_beta" --trace --run "$tmp/fetch.avm" --exit-after-run
check "fetch from another machine" "((just alpha) #t (just beta) (just 42) #f #t)" "$(cat "$tmp/alpha.out")"
check "exit status" 0 "$status"
check_grep "the holder traces the move" "^\[[0-9]*\] moved obj:[0-9]* from machine:alpha to machine:beta$" "$tmp/alpha.err"
check_grep "the fetcher traces the fetch" "^\[[0-9]*\] fetched obj:[0-9]* to machine:beta \[ctrl:alpha\]$" "$tmp/beta.err"
check_grep "an object that is gone: why" "error: fetch of obj:[0-9]* from machine alpha: remote error: object not found: obj:[0-9]*" "$tmp/beta.err"

cat >"$tmp/fetch-tx.avm" <<'AVM'
(behavior box (m) m)
(define c (create-obj 'box))
(teleport 'beta)
(begin-tx)
(fetch c)
AVM
run_node alpha2 --peer "beta@127.0.0.1:$port_beta" --run "$tmp/fetch-tx.avm" --exit-after-run
check "fetch inside a transaction: exit status" 1 "$status"
check_grep "fetch inside a transaction: the error" "error: InvalidDuringTx: fetch from another machine inside transaction 1" "$tmp/alpha2.err"
exit $fail
