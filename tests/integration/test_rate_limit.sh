#!/usr/bin/env bash
# A signal storm against a small token bucket: what the kernel holds back is counted,
# carried by the next record that goes out and totalled in the stats, so reported plus
# suppressed is exactly what the process raised.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "storm",
 "scope": {"binaries": ["'"$TARGETS/storm"'"]},
 "probes": [{"id": "traps", "kind": "signal", "signals": ["SIGTRAP"], "handled": true}]}'
start_salved "$WORK/p.json" --rate 50/20

"$TARGETS/storm" 2000 1 > "$WORK/out"
sent=$(field "$WORK/out" sent)
[ "$sent" -gt 1000 ] || fail "storm raised only $sent signals"
stop_salved
stats=$(jq -c 'select(.kind == "stats")' "$EVENTS" | tail -n1)
[ -n "$stats" ] || fail "no stats line at exit"
reported=$(count_events '.probe == "traps"')
carried=$(jq -s '[.[] | select(.probe == "traps") | .suppressed // 0] | add' "$EVENTS")
suppressed=$(jq .events.signal.suppressed <<<"$stats")
lost=$(jq .events.signal.lost <<<"$stats")
[ "$lost" = 0 ] || fail "records lost: $lost"
[ "$((reported + suppressed))" = "$sent" ] ||
	fail "reported $reported + suppressed $suppressed != sent $sent"
[ "$reported" -lt 200 ] || fail "the bucket let $reported records through"
[ "$carried" -gt 0 ] && [ "$carried" -le "$suppressed" ] ||
	fail "records carried $carried suppressed, stats say $suppressed"
expect "$stats" .events.signal.seen "$sent"
pass "$sent raised: $reported reported, $suppressed suppressed ($carried carried by records)"
