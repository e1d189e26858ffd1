#!/bin/sh
# tests/node/pingpong.sh — the distributed PingPong of examples/distributed
# across nodes on loopback: ping on the node that runs play.avm, pong moved
# to another; both ways between two nodes, then among three at once.
. "$(dirname "$0")/lib.sh"
pp=$EXAMPLES/distributed/ping-pong.avm
play=$EXAMPLES/distributed/play.avm

# alpha plays against beta, 10 rounds: every call to pong crosses to beta,
# every call back to ping crosses to alpha.
start beta --load "$pp"
run_node alpha --peer "beta@127.0.0.1:$port_beta" --load "$pp" --run "$play" --exit-after-run -- beta 10
check "alpha plays against beta: result" "((just alpha) (just beta) (just (done 10)))" "$(cat "$tmp/alpha.out")"
check "alpha plays against beta: exit status" 0 "$status"

# The other way round, an odd maximum: ping answers at the first even
# counter at or above it.
start alpha --load "$pp"
run_node beta --peer "alpha@127.0.0.1:$port_alpha" --load "$pp" --run "$play" --exit-after-run -- alpha 7
check "beta plays against alpha: result" "((just beta) (just alpha) (just (done 8)))" "$(cat "$tmp/beta.out")"
check "beta plays against alpha: exit status" 0 "$status"

# No rounds: ping answers at once, pong is never called.
run_node gamma --peer "alpha@127.0.0.1:$port_alpha" --load "$pp" --run "$play" --exit-after-run -- alpha 0
check "no rounds" "((just gamma) (just alpha) (just (done 0)))" "$(cat "$tmp/gamma.out")"

# A long game: the calls nest 501 deep on each side.
run_node delta --peer "alpha@127.0.0.1:$port_alpha" --load "$pp" --run "$play" --exit-after-run -- alpha 1000
check "1000 rounds" "((just delta) (just alpha) (just (done 1000)))" "$(cat "$tmp/delta.out")"

# Three nodes, two games at once: epsilon plays with pong on alpha while
# zeta plays with pong on epsilon (which also serves zeta's calls).
start epsilon --peer "alpha@127.0.0.1:$port_alpha" --load "$pp" --run "$play" -- alpha 20
run_node zeta --peer "alpha@127.0.0.1:$port_alpha" --peer "epsilon@127.0.0.1:$port_epsilon" --load "$pp" \
  --run "$play" --exit-after-run -- epsilon 21
check "three nodes: zeta against epsilon" "((just zeta) (just epsilon) (just (done 22)))" "$(cat "$tmp/zeta.out")"
wait_for "$tmp/epsilon.out" "done"
check "three nodes: epsilon against alpha" "((just epsilon) (just alpha) (just (done 20)))" "$(cat "$tmp/epsilon.out")"
exit $fail
