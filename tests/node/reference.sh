#!/bin/sh
# tests/node/reference.sh — a node and the reference node (anoma/avm-lab's
# avm-node), played by tests/node/nodeclient speaking only the reference's
# four message types and failing on any other (its `strict` step): the
# reference calls an object of ours, which calls back an object of the
# reference, and the answers come back; both when the reference dials our
# node and when our node dials the reference.  The reference itself cannot
# be built here (no crates offline); this is its protocol, byte for byte.
. "$(dirname "$0")/lib.sh"

# An object of the reference node: its port (9001) in the top 16 bits.
ref=2533556265572614657
create="{\"type\":\"create_notify\",\"object_id\":$ref,\"machine_id\":\"ref\"}"
call() {  # call REQUEST TARGET: the reference calls TARGET with its object
  printf '{"type":"call","request_id":%s,"target":%s,"input":{"ObjectRef":%s},"sender":%s,"sender_machine":"ref"}' \
    "$1" "$2" "$ref" "$ref"
}

# {===== The reference dials our node =====}
start omega --load "$here/relay.avm"
id=$(sed -n 's/^#<object \([0-9]*\)>$/\1/p' "$tmp/omega.out")
"$NODECLIENT" "$port_omega" strict json "$create" \
  json "$(call 0 "$id")" answer '{"Ok":{"Nat":100}}' recv call_response \
  json "$(call 1 "$id")" answer '{"Err":"object not found: obj:1"}' recv call_response \
  >"$tmp/dialled.out" 2>&1
check "the reference dialling us sees only its own message types" 0 $?
check "its call of our object, our call of its object, and the answers, as the reference encodes them" \
"{\"type\":\"call\",\"request_id\":1,\"target\":$ref,\"input\":{\"Nat\":99},\"sender\":$id,\"sender_machine\":\"omega\"}
{\"type\":\"call_response\",\"request_id\":0,\"result\":{\"Ok\":{\"Just\":{\"Nat\":100}}}}
{\"type\":\"call\",\"request_id\":2,\"target\":$ref,\"input\":{\"Nat\":99},\"sender\":$id,\"sender_machine\":\"omega\"}
{\"type\":\"call_response\",\"request_id\":1,\"result\":{\"Ok\":\"Nothing\"}}" "$(cat "$tmp/dialled.out")"

# {===== Our node dials the reference =====}
# Ids are known in advance with --prefix: our first object is 7 << 48.
id=$((7 << 48))
"$NODECLIENT" "listen:$tmp/ref.port" strict json "$create" \
  json "$(call 0 "$id")" answer '{"Ok":{"Str":"pong"}}' recv call_response \
  >"$tmp/listened.out" 2>&1 &
client=$!
pids="$pids $client"
i=0
while [ ! -s "$tmp/ref.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
start sigma --prefix 7 --peer "ref@127.0.0.1:$(cat "$tmp/ref.port")" --load "$here/relay.avm"
wait $client
check "the reference we dial sees only its own message types" 0 $?
check "its call of our object, our call of its object, and the answers" \
"{\"type\":\"call\",\"request_id\":1,\"target\":$ref,\"input\":{\"Nat\":99},\"sender\":$id,\"sender_machine\":\"sigma\"}
{\"type\":\"call_response\",\"request_id\":0,\"result\":{\"Ok\":{\"Just\":{\"Str\":\"pong\"}}}}" "$(cat "$tmp/listened.out")"
exit $fail
