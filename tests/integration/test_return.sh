#!/usr/bin/env bash
# Error returns: a function called 10,000 times that fails on a known schedule. Every
# failing call is reported with its return value, and no other; with a token bucket
# smaller than the burst, reported plus suppressed is still every failing call.
. "$(dirname "$0")/lib.sh"
need_bpf

policy() { write_policy "$WORK/p.json" '{"salve": 1, "name": "returns",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "parse-errors", "kind": "return", "binary": "'"$TARGETS/calls"'",
             "symbol": "parse_item", "type": "int", "when": "< 0"'"$1"'}]}'; }

policy ', "rate": {"per_second": 1000000, "burst": 1000000}'
start_salved "$WORK/p.json" --rate 0
"$TARGETS/calls" fail 10000 > "$WORK/out"
pid=$(field "$WORK/out" pid); failures=$(field "$WORK/out" failures); sum=$(field "$WORK/out" sum)
for _ in $(seq 100); do [ "$(count_events ".pid == $pid")" -ge "$failures" ] && break; sleep 0.05; done
drain
[ "$(count_events ".pid == $pid")" = "$failures" ] ||
	fail "expected $failures events, got $(count_events ".pid == $pid")"
got=$(jq -s "[.[] | select(.pid == $pid) | .ret] | add" "$EVENTS")
[ "$got" = "$sum" ] || fail "return values sum to $got, the target's failures to $sum"
ev=$(wait_event ".pid == $pid")
expect "$ev" .kind return
expect "$ev" .probe parse-errors
expect "$ev" .exe "$TARGETS/calls"
expect "$ev" .site.module "$TARGETS/calls"
expect "$ev" .site.symbol parse_item
[ "$(jq -r .site.offset <<<"$ev")" -gt 0 ] || fail "no file offset for the probed function: $ev"
stop_salved

# A bucket of 50 that refills slowly: most failing calls are held back, none lost.
policy ', "rate": {"per_second": 10, "burst": 50}'
start_salved "$WORK/p.json" --rate 0
"$TARGETS/calls" fail 10000 > "$WORK/out"
pid=$(field "$WORK/out" pid); failures=$(field "$WORK/out" failures)
stop_salved
stats=$(jq -c 'select(.kind == "stats")' "$EVENTS" | tail -n1)
reported=$(count_events ".pid == $pid")
suppressed=$(jq .events.return.suppressed <<<"$stats")
[ "$reported" -ge 50 ] && [ "$reported" -lt 100 ] || fail "the bucket let $reported through"
[ "$((reported + suppressed))" = "$failures" ] ||
	fail "reported $reported + suppressed $suppressed != failing calls $failures"
pass "$failures failing calls reported exactly; with a bucket of 50: $reported + $suppressed"
