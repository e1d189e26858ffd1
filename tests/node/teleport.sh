#!/bin/sh
# tests/node/teleport.sh — teleport between nodes: a program that goes to
# another machine with what it defined, works there and comes back; a
# chain over three machines; the errors (no such machine, inside a
# transaction, inside a call, an error over there, the machine dying while
# the program is there); and continuations no node of ours would send.
. "$(dirname "$0")/lib.sh"
trip=$EXAMPLES/distributed/trip.avm

# The trip of examples/distributed: beta holds none of its code.
start beta --trace
run_node alpha --peer "beta@127.0.0.1:$port_beta" --trace --run "$trip" --exit-after-run -- beta
check "the trip: result" "(alpha #t beta alpha #t 81 (just 2) (just 2) (just beta))" "$(cat "$tmp/alpha.out")"
check "the trip: exit status" 0 "$status"
check_grep "alpha traces the departure" "^\[[0-9]*\] execution moved from machine:alpha to machine:beta \[ctrl:alpha\]$" "$tmp/alpha.err"
check_grep "beta traces the way back" "^\[[0-9]*\] execution moved from machine:beta to machine:alpha \[ctrl:alpha\]$" "$tmp/beta.err"
check_grep "the object made there is beta's" "^\[[0-9]*\] created obj:[0-9]* (behavior: counter) \[ctrl:alpha\]$" "$tmp/beta.err"

# Three machines: alpha -> beta -> gamma; the outcome comes back along the way.
start gamma
start beta2 --peer "gamma@127.0.0.1:$port_gamma"
cat >"$tmp/chain.avm" <<'AVM'
(define (where) (get-current-machine))
(define a (where))
(define b (begin (teleport 'beta2) (where)))
(define c (begin (teleport 'gamma) (where)))
(list a b c (length (list a b c)))
AVM
run_node alpha2 --peer "beta2@127.0.0.1:$port_beta2" --run "$tmp/chain.avm" --exit-after-run
check "a chain of teleports ends at home" "(alpha2 beta2 gamma 3)" "$(cat "$tmp/alpha2.out")"

# A machine that declares a behavior of the same name with other code
# does not take the program (its objects run their own code).
start beta3 --load "$here/objects.avm"
cat >"$tmp/clash.avm" <<'AVM'
(behavior counter (m) m)
(list (teleport 'beta3) (get-current-machine))
AVM
run_node alpha8 --peer "beta3@127.0.0.1:$port_beta3" --trace --run "$tmp/clash.avm" --exit-after-run
check "a clash of behaviors: teleport gives #f" "(#f alpha8)" "$(cat "$tmp/alpha8.out")"
check_grep "... and the trace says why" "error: teleport to machine beta3: remote error: cannot take the program: module [0-9a-f]* declares counter, which this machine declares with other code" "$tmp/alpha8.err"

# A machine nobody is connected to: teleport gives #f, and the program stays.
cat >"$tmp/nowhere.avm" <<'AVM'
(list (teleport 'nowhere) (get-current-machine))
AVM
run_node alpha3 --peer "beta@127.0.0.1:$port_beta" --trace --run "$tmp/nowhere.avm" --exit-after-run
check "to a machine not connected: #f" "(#f alpha3)" "$(cat "$tmp/alpha3.out")"
check_grep "... and the trace says why" "error: teleport: the machine is not connected" "$tmp/alpha3.err"

# Inside a transaction: TeleportDuringTx.
cat >"$tmp/in-tx.avm" <<'AVM'
(begin-tx)
(teleport 'beta)
AVM
run_node alpha4 --peer "beta@127.0.0.1:$port_beta" --run "$tmp/in-tx.avm" --exit-after-run
check "inside a transaction: exit status" 1 "$status"
check_grep "inside a transaction: the error" "in-tx.avm:2:1: error: TeleportDuringTx: teleport inside transaction 1" "$tmp/alpha4.err"

# Inside an object call: only a program's own level moves.
cat >"$tmp/in-call.avm" <<'AVM'
(behavior mover (m) (teleport m))
(call (create-obj 'mover) 'beta)
AVM
run_node alpha5 --peer "beta@127.0.0.1:$port_beta" --trace --run "$tmp/in-call.avm" --exit-after-run
check "inside a call: the call is rejected" "nothing" "$(cat "$tmp/alpha5.out")"
check_grep "inside a call: the error" "error: InvalidMachineTransfer: teleport to machine beta inside a call of obj:[0-9]*: only a program's own level can move to another machine" "$tmp/alpha5.err"

# An error over there ends the program at home with that error.
cat >"$tmp/fails-there.avm" <<'AVM'
(teleport 'beta)
(car (list))
AVM
run_node alpha6 --peer "beta@127.0.0.1:$port_beta" --run "$tmp/fails-there.avm" --exit-after-run
check "an error there: exit status" 1 "$status"
check_grep "an error there: reported at home" "error: car: expected pair, got ()" "$tmp/alpha6.err"

# The machine dies while the program runs there: the program fails at
# home, and the node goes on.
start victim
cat >"$tmp/long.avm" <<'AVM'
(teleport 'victim)
(let loop ((i 0)) (if (< i 2000000000) (loop (+ i 1)) i))
AVM
start alpha7 --peer "victim@127.0.0.1:$port_victim" --trace --run "$tmp/long.avm" --exit-after-run
wait_for "$tmp/alpha7.err" "execution moved from machine:alpha7 to machine:victim" &&
  kill "$pid_victim"
wait "$pid_alpha7"
check "the machine dies: exit status" 1 "$?"
check_grep "the machine dies: the error" "error: the program ran on machine victim, which is gone: the connection went down" "$tmp/alpha7.err"

# Continuations by hand: each is refused with the reason, on a connection
# that stays open.
teleport_msg() {  # teleport_msg REQUEST CONTINUATION
  printf '{"type":"teleport","request_id":%s,"sender_machine":"hand","continuation":%s}' "$1" "$2"
}
empty='"globals":[],"stack":[],"dest":0,"returns":false,"controller":null,"state":null'
out=$("$NODECLIENT" "$port_beta" \
  json "$(teleport_msg 1 "{\"modules\":[],\"frames\":[],$empty}")" recv call_response \
  json "$(teleport_msg 2 "{\"modules\":[{\"hash\":\"0123456789abcdef\",\"bytecode\":null}],\"frames\":[],$empty}")" recv call_response \
  json "$(teleport_msg 3 "{\"modules\":[{\"hash\":\"0123456789abcdef\",\"bytecode\":\"AAAA\"}],\"frames\":[],$empty}")" recv call_response \
  json "$(teleport_msg 4 "{\"modules\":[],\"frames\":[[{\"Prim\":\"car\"},1,1]],$empty}")" recv call_response \
  json "$(teleport_msg 5 '[]')" recv call_response 2>&1)
check "continuations no node sends are refused" \
'{"type":"call_response","request_id":1,"result":{"Err":"cannot take the program: 0 frames (from 1 to 2000000)"}}
{"type":"call_response","request_id":2,"result":{"Err":"cannot take the program: module 0123456789abcdef is not held on this machine"}}
{"type":"call_response","request_id":3,"result":{"Err":"cannot take the program: module 0123456789abcdef: invalid bytecode: not an avm bytecode file (bad magic number)"}}
{"type":"call_response","request_id":4,"result":{"Err":"cannot take the program: frames[0]: not a closure"}}
{"type":"call_response","request_id":5,"result":{"Err":"cannot take the program: a continuation is a JSON object"}}' "$out"
exit $fail
