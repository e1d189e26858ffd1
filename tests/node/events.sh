#!/bin/sh
# tests/node/events.sh — avm node --events: the trace, live, as
# Server-Sent Events (GET /events), and GET /health; the calls a node
# serves for its peers are there as they happen.  Needs curl (skipped
# without it).
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 77; }
pp=$EXAMPLES/distributed/ping-pong.avm

start beta --events 0 --load "$pp"
events=$(sed -n 's/^avm node beta: serving events on port \([0-9]*\)$/\1/p' "$tmp/beta.err")
check "the events port is logged" "yes" "$([ -n "$events" ] && echo yes)"
check "GET /health" "ok" "$(curl -s --max-time 5 "http://127.0.0.1:$events/health")"
check "another path is not found" "404" \
  "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$events/nope")"
check "only GET" "405" \
  "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$events/events")"

# A subscriber, then a game of two rounds against beta: beta's events are
# pong moving in, pong's call of ping on alpha (answered), then the call
# of pong that beta served, each as it happens.
curl -s -N --max-time 20 "http://127.0.0.1:$events/events" >"$tmp/sse" 2>/dev/null &
pids="$pids $!"
curl_pid=$!
wait_for "$tmp/sse" "^: subscribed$"
run_node alpha --peer "beta@127.0.0.1:$port_beta" --load "$pp" --run "$EXAMPLES/distributed/play.avm" \
  --exit-after-run -- beta 2
check "the game" "((just alpha) (just beta) (just (done 2)))" "$(cat "$tmp/alpha.out")"
wait_for "$tmp/sse" '"timestamp":2,'
kill "$curl_pid" 2>/dev/null
check "the stream: one data line per event" "ObjectMoved
ObjectCalled
ObjectCalled" "$(sed -n 's/^data: {"timestamp":[0-9]*,"event_type":{"\([A-Za-z]*\)".*/\1/p' "$tmp/sse")"
check "each event ends with a blank line (the first comment too)" "4" "$(grep -c '^$' "$tmp/sse")"
check_grep "the served call, with its input and output" \
  '^data: {"timestamp":2,"event_type":{"ObjectCalled":{"id":[0-9]*,"input":{"List":\[{"Sym":"pong"},{"Nat":1},{"Nat":2}\]},"output":{"List":\[{"Sym":"done"},{"Nat":2}\]}}},"executing_controller":"alpha"}$' "$tmp/sse"

# --events with --trace in another view is refused: the events are JSON.
"$AVM" node --name x --port 0 --events 0 --trace=text >/dev/null 2>&1
check "--events with --trace=text is a usage error" 64 "$?"
exit $fail
