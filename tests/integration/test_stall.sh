#!/usr/bin/env bash
# A heartbeat that stops for 2 s: one stall event, saying how long it has lasted; the
# heartbeat resumes: no more.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "stall",
 "scope": {"binaries": ["'"$TARGETS/calls"'"]},
 "probes": [{"id": "tick", "kind": "stall", "binary": "'"$TARGETS/calls"'",
             "symbol": "tick", "every": "500ms"}]}'
start_salved "$WORK/p.json"

"$TARGETS/calls" beat > "$WORK/out"
pid=$(field "$WORK/out" pid)
grep -q resume "$WORK/out" || fail "target did not finish"
sleep 1.5 # past the end: the exit must not count as a stall either
[ "$(count_events ".pid == $pid")" = 1 ] || fail "expected one stall event, got $(count_events ".pid == $pid")"
ev=$(wait_event ".pid == $pid")
expect "$ev" .kind stall
expect "$ev" .probe tick
expect "$ev" .comm calls
expect "$ev" .exe "$TARGETS/calls"
jq -e '.duration_ns > 500000000 and .duration_ns < 2200000000' <<<"$ev" >/dev/null ||
	fail "stall duration out of range: $ev"
pass "one stall reported while the heartbeat stopped, none once it resumed"
