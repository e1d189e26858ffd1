#!/bin/sh
# tests/node/garbage.sh — a node fed what no node sends: random bytes, a
# length prefix over the limit, a frame cut short, JSON that is not JSON
# or not a message, a call whose input cannot be read.  Each time the node
# logs the reason, closes that connection (or answers the call), and keeps
# serving everyone else; it holds no more connections afterwards than
# before.
. "$(dirname "$0")/lib.sh"
start beta --load "$here/objects.avm"
# A call by hand of the counter that make-counter.avm moves to beta.
counter_call() {  # counter_call REQUEST ID
  printf '{"type":"call","request_id":%s,"target":%s,"input":{"Nat":1},"sender":5,"sender_machine":"hand"}' "$1" "$2"
}
cat >"$tmp/make-counter.avm" <<'AVM'
(define c (create-obj 'counter))
(move-object c 'beta)
c
AVM
fds() { ls "/proc/$pid_beta/fd" 2>/dev/null | wc -l; }
fds_before=$(fds)

# garbage NAME EXPECTED-LOG STEP...: sends STEPs on a new connection,
# which beta must close, logging EXPECTED-LOG.
garbage() {
  name=$1 log=$2; shift 2
  out=$("$NODECLIENT" "$port_beta" "$@" closed 2>&1)
  check "$name: the connection is closed" "closed" "$out"
  check_grep "$name: the reason is logged" "^avm node beta: peer 127\.0\.0\.1:[0-9]*: $log" "$tmp/beta.err"
}

garbage "random bytes" "frame too large: 3735928559 bytes (limit 16777216)" raw deadbeef0102030405
garbage "a length prefix one over the limit" "frame too large: 16777217 bytes (limit 16777216)" raw 01000001
garbage "a frame that is not JSON" "bad message: " raw 0000000568656c6c6f
garbage "malformed JSON" "bad message: " json '{"type":"call",'
garbage "JSON that is not an object" "bad message: " json '[1,2,3]'
garbage "an unknown message type" 'bad message: unknown message type "heartbeat"' json '{"type":"heartbeat","nonce":1}'
garbage "a message without a type" "bad message: " json '{"request_id":1}'
garbage "an empty frame" "bad message: " raw 00000000
out=$("$NODECLIENT" "$port_beta" raw 000000107b22 2>&1)
wait_for "$tmp/beta.err" "truncated frame: the stream ended after 2 of 16 payload bytes" &&
  echo "PASS: a frame cut short by the end of the connection is logged"

# A call whose input cannot cross machines: answered Err, and the
# connection stays for the next message.
out=$("$NODECLIENT" "$port_beta" \
  json '{"type":"call","request_id":3,"target":1,"input":"Procedure","sender":1,"sender_machine":"x"}' \
  recv call_response \
  json '{"type":"call","request_id":4,"target":1,"input":"Nothing","sender":1,"sender_machine":"x"}' \
  recv call_response 2>&1)
check "a call with an input we cannot take is answered Err, on the same connection" \
  '{"type":"call_response","request_id":3,"result":{"Err":"bad call: call: field \"input\": unknown value tag \"Procedure\""}}
{"type":"call_response","request_id":4,"result":{"Err":"object not found: obj:1"}}' "$out"

# After all that, beta serves as before: a node moves a counter there and
# calls it; by hand, a call reaches it too.
run_node alpha --peer "beta@127.0.0.1:$port_beta" --load "$here/objects.avm" --run "$tmp/make-counter.avm" --exit-after-run
check "another node still works with beta" 0 "$status"
id=$(sed -n 's/^#<object \([0-9]*\)>$/\1/p' "$tmp/alpha.out")
out=$("$NODECLIENT" "$port_beta" json "$(counter_call 8 "$id")" recv call_response 2>&1)
check "calls by hand are still served" '{"type":"call_response","request_id":8,"result":{"Ok":{"Nat":1}}}' "$out"

# A peer that sends more calls at once than --max-calls: the ones over
# the limit are answered with an error at once, the others served; once
# they have ended there is room again.
cat >"$tmp/slow-one.avm" <<'AVM'
(display (create-obj 'slow))
(newline)
AVM
start flood --max-calls 2 --load "$here/objects.avm" --load "$tmp/slow-one.avm"
slow=$(sed -n 's/^#<object \([0-9]*\)>$/\1/p' "$tmp/flood.out")
slow_call() {  # slow_call REQUEST N: a call that counts down from N
  printf '{"type":"call","request_id":%s,"target":%s,"input":{"Nat":%s},"sender":5,"sender_machine":"hand"}' "$1" "$slow" "$2"
}
out=$("$NODECLIENT" "$port_flood" json "$(slow_call 1 3000000)" json "$(slow_call 2 10)" json "$(slow_call 3 10)" \
  recv call_response recv call_response recv call_response json "$(slow_call 4 10)" recv call_response 2>&1)
check "calls over --max-calls are refused, the others served" \
'{"type":"call_response","request_id":3,"result":{"Err":"too many calls in flight from this peer (at most 2)"}}
{"type":"call_response","request_id":1,"result":{"Ok":{"Sym":"done"}}}
{"type":"call_response","request_id":2,"result":{"Ok":{"Sym":"done"}}}
{"type":"call_response","request_id":4,"result":{"Ok":{"Sym":"done"}}}' "$out"
sleep 0.2
check "no connection is left open" "$fds_before" "$(fds)"
exit $fail
