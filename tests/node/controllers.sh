#!/bin/sh
# tests/node/controllers.sh — controller instructions on an object another
# node holds: get-controller, transfer-object and freeze run there, with
# the asking program's executing controller as authority; an unauthorized
# transfer raises UnauthorizedTransfer here, where the program is; inside
# a transaction a transfer there is an InvalidDuringTx error.
. "$(dirname "$0")/lib.sh"
cat >"$tmp/deed.avm" <<'AVM'
(behavior deed (m) m)
(behavior mover (m) (transfer-object (car m) (cadr m)))
AVM
cat >"$tmp/deeds.avm" <<'AVM'
(define d (create-obj 'deed))
(move-object d 'beta)
(define m (create-obj 'mover))
(list (get-machine d) (get-controller d) (transfer-object d 'bob) (get-controller d)
      (call m (list d 'carol)) (freeze d) (get-controller d))
AVM
start beta --trace --load "$tmp/deed.avm"
run_node alpha --peer "beta@127.0.0.1:$port_beta" --trace --load "$tmp/deed.avm" --run "$tmp/deeds.avm" --exit-after-run
check "controller instructions on an object elsewhere" \
  "((just beta) (just alpha) #t (just bob) nothing (just #t) (just bob))" "$(cat "$tmp/alpha.out")"
check_grep "the holder traces the transfer" "^\[[0-9]*\] transferred obj:[0-9]* from ctrl:alpha to ctrl:bob \[ctrl:alpha\]$" "$tmp/beta.err"
check_grep "the holder traces the freeze" "^\[[0-9]*\] froze obj:[0-9]* via ctrl:bob \[ctrl:alpha\]$" "$tmp/beta.err"
check_grep "an unauthorized transfer rejects the call that made it" \
  "error: UnauthorizedTransfer: transfer-object: object [0-9]* is controlled by bob, not by alpha \[ctrl:alpha\]$" "$tmp/alpha.err"

# At the program's own level, the error ends the program, located here.
cat >"$tmp/steal.avm" <<'AVM'
(define d (create-obj 'deed 'bob))
(move-object d 'beta)
(transfer-object d 'mallory)
AVM
run_node alpha2 --peer "beta@127.0.0.1:$port_beta" --load "$tmp/deed.avm" --run "$tmp/steal.avm" --exit-after-run
check "an unauthorized transfer: exit status" 1 "$status"
check_grep "an unauthorized transfer: the error, where it happened" \
  "steal.avm:3:1: error: UnauthorizedTransfer: transfer-object: object [0-9]* is controlled by bob, not by alpha2" "$tmp/alpha2.err"

cat >"$tmp/in-tx.avm" <<'AVM'
(define d (create-obj 'deed))
(move-object d 'beta)
(begin-tx)
(transfer-object d 'bob)
AVM
run_node alpha3 --peer "beta@127.0.0.1:$port_beta" --load "$tmp/deed.avm" --run "$tmp/in-tx.avm" --exit-after-run
check "a transfer there inside a transaction: exit status" 1 "$status"
check_grep "a transfer there inside a transaction: the error" \
  "error: InvalidDuringTx: transfer-object of an object on another machine inside transaction 1" "$tmp/alpha3.err"

# By hand: what no node of ours sends.
op_msg() {  # op_msg REQUEST OP OBJECT AUTHORITY
  printf '{"type":"object_op","request_id":%s,"object_id":%s,"op":"%s","controller":"","authority":"%s","sender_machine":"hand"}' "$1" "$3" "$2" "$4"
}
out=$("$NODECLIENT" "$port_beta" json "$(op_msg 1 destroy-obj 1 x)" recv call_response \
  json "$(op_msg 2 freeze 1 x)" recv call_response 2>&1)
check "object_op by hand: not an instruction it runs, an object it does not hold" \
'{"type":"call_response","request_id":1,"result":{"Err":"object_op: not a controller instruction"}}
{"type":"call_response","request_id":2,"result":{"Err":"object not found: obj:1"}}' "$out"
exit $fail
