#!/bin/sh
# tests/node/faults.sh — what goes wrong between nodes: a call to an
# object that is gone, a call that is never answered (the timeout), a peer
# killed while it serves a call (the connection going down), and the node
# going on afterwards: it still serves, and it reconnects to the peer once
# the peer is back.
. "$(dirname "$0")/lib.sh"
lib=$here/objects.avm

# {===== Objects that are not there =====}
start beta --load "$lib"
run_node alpha --peer "beta@127.0.0.1:$port_beta" --load "$lib" --run "$here/call-doomed.avm" --exit-after-run -- beta
check "a call after the object destroyed itself on the other machine gives nothing" \
  "((just hello) (just #t) nothing nothing)" "$(cat "$tmp/alpha.out")"

# A call by hand to an id nobody has: the node answers Err, as the
# reference does.
out=$("$NODECLIENT" "$port_beta" \
  json '{"type":"call","request_id":9,"target":77,"input":"Nothing","sender":1,"sender_machine":"x"}' \
  recv call_response)
check "a call to an unknown object is answered Err" \
  '{"type":"call_response","request_id":9,"result":{"Err":"object not found: obj:77"}}' "$out"

# Calls by hand of an object that is there: an answer, and a call its
# behavior rejects, answered Err with the reason.
start kappa --load "$lib" --load "$here/make-counter.avm"
id=$(sed -n 's/^#<object \([0-9]*\)>$/\1/p' "$tmp/kappa.out")
out=$("$NODECLIENT" "$port_kappa" \
  json "{\"type\":\"call\",\"request_id\":1,\"target\":$id,\"input\":{\"Nat\":3},\"sender\":1,\"sender_machine\":\"x\"}" \
  recv call_response \
  json "{\"type\":\"call\",\"request_id\":2,\"target\":$id,\"input\":{\"Str\":\"x\"},\"sender\":1,\"sender_machine\":\"x\"}" \
  recv call_response)
printf '%s\n' "$out" >"$tmp/kappa.calls"
check_grep "a call is answered Ok with the output" '^{"type":"call_response","request_id":1,"result":{"Ok":{"Nat":3}}}$' "$tmp/kappa.calls"
check_grep "a rejected call is answered Err with the reason" \
  '^{"type":"call_response","request_id":2,"result":{"Err":"call rejected: +: expected integer' "$tmp/kappa.calls"

# {===== A call that is never answered =====}
run_node gamma --peer "beta@127.0.0.1:$port_beta" --load "$lib" --run "$here/call-slow.avm" --exit-after-run \
  --call-timeout 300 --trace -- beta
check "a call not answered in time gives nothing" \
  "(nothing (just 5))" "$(cat "$tmp/gamma.out")"
check_grep "the trace says why" "error: call of obj:[0-9]* on machine beta: no answer within 300 ms" "$tmp/gamma.err"

# {===== A peer killed while it serves a call =====}
start delta --load "$lib" --trace
start epsilon --peer "delta@127.0.0.1:$port_delta" --load "$lib" --run "$here/call-slow.avm" --call-timeout 20000 \
  --trace -- delta
wait_for "$tmp/delta.err" "state updated"
kill -9 "$pid_delta"
wait_for "$tmp/epsilon.out" "nothing"
check "the call to a killed peer gives nothing, and the program goes on" \
  "(nothing (just 5))" "$(cat "$tmp/epsilon.out")"
check_grep "the trace says why" "error: call of obj:[0-9]* on machine delta: the connection went down" "$tmp/epsilon.err"
check_grep "the node logs the peer going away" "^avm node epsilon: peer delta@127.0.0.1:$port_delta: " "$tmp/epsilon.err"
# epsilon still serves.
out=$("$NODECLIENT" "$port_epsilon" \
  json '{"type":"call","request_id":1,"target":1,"input":"Nothing","sender":1,"sender_machine":"x"}' \
  recv call_response)
check "the node survives its peer" \
  '{"type":"call_response","request_id":1,"result":{"Err":"object not found: obj:1"}}' "$out"
# delta comes back on the same port: epsilon reconnects.
"$AVM" node --name delta --port "$port_delta" --load "$lib" >"$tmp/delta2.out" 2>"$tmp/delta2.err" &
pids="$pids $!"
watchdog $!
wait_for "$tmp/epsilon.err" "peer delta@127.0.0.1:$port_delta: connected" &&
  echo "PASS: the node reconnects to a peer that comes back"
exit $fail
