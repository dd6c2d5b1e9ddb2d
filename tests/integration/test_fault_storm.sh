#!/usr/bin/env bash
# A JVM-like target takes 100,000 handled SIGSEGVs a second (a page it protects, a
# handler that opens it and returns). salved stays within its per-process rate limit:
# what the kernel held back is counted as suppressed, nothing is lost, every fault is
# either reported or suppressed, and another process's crash during the storm is still
# reported. With "faults": "fatal" the probe reports no caught fault at all.
. "$(dirname "$0")/lib.sh"
need_bpf

RATE=100000
SECS=2
policy() {
	write_policy "$WORK/p.json" '{"salve": 1, "name": "storm",
 "scope": {"binaries": ["'"$TARGETS/faultloop"'", "'"$TARGETS/crash"'"]},
 "probes": [{"id": "crashes", "kind": "signal"'"$1"'}]}'
}

# storm SECONDS: starts the faulting target and waits until it runs.
storm() {
	run_target "$WORK/storm.out" "$TARGETS/faultloop" "$RATE" "$1"
	for _ in $(seq 100); do [ -n "$(field "$WORK/storm.out" pid)" ] && break; sleep 0.05; done
	spid=$(field "$WORK/storm.out" pid)
	[ -n "$spid" ] || fail "faultloop did not start: $(cat "$WORK/storm.out")"
}

# crash_now: another process in scope crashes; its event must come through.
crash_now() {
	( ulimit -c 0; cd "$WORK" && exec "$TARGETS/crash" null ) > "$WORK/crash.out" 2>&1
	cpid=$(field "$WORK/crash.out" pid)
	ev=$(wait_event ".kind == \"signal\" and .pid == $cpid" 20) ||
		fail "$1: the crash of pid $cpid during the storm was not reported"
	expect "$ev" .code SEGV_MAPERR
	expect "$ev" .fatal true
	expect "$ev" '.stack[0].symbol' fault_null_deref
}

policy ''
start_salved "$WORK/p.json" --rate 100/200
storm "$SECS"
crash_now "storm"
wait "$LAST_PID" || fail "faultloop failed: $(cat "$WORK/storm.out")"
faults=$(field "$WORK/storm.out" faults)
secs=$(field "$WORK/storm.out" seconds)
# The target kept its pace with salve watching (a quarter of slack: this host has other
# work, and the target needs half a CPU for its faults alone).
[ "$faults" -ge $((RATE * SECS * 3 / 4)) ] ||
	fail "faultloop took only $faults faults in ${secs}s with salve watching"
drain
stats=$(jq -c 'select(.kind == "stats")' "$EVENTS" | tail -n1)
reported=$(count_events ".probe == \"crashes\" and .pid == $spid and .handled == true")
carried=$(jq -s "[.[] | select(.probe == \"crashes\" and .pid == $spid) | .suppressed // 0] | add // 0" "$EVENTS")
suppressed=$(jq .events.signal.suppressed <<<"$stats")
lost=$(jq .events.signal.lost <<<"$stats")
[ "$lost" = 0 ] || fail "records lost: $lost"
[ "$reported" -gt 0 ] || fail "no caught fault of the storm was reported"
# The bucket: its burst of 200, then 100 a second, for the storm and a second of slack.
[ "$reported" -le $((200 + 100 * (SECS + 1))) ] || fail "the bucket let $reported records through"
[ "$((reported + suppressed))" = "$faults" ] ||
	fail "reported $reported + suppressed $suppressed != faults taken $faults"
[ "$carried" -gt 0 ] && [ "$carried" -le "$suppressed" ] ||
	fail "records carried $carried suppressed, stats say $suppressed"
ev=$(wait_event ".probe == \"crashes\" and .pid == $spid and .handled == true") || fail "no storm event"
expect "$ev" .code SEGV_ACCERR
expect "$ev" .fatal false
expect "$ev" '.stack[0].symbol' touch
stop_salved

# Turned off: no caught fault reaches the ring, the crash still does.
policy ', "faults": "fatal"'
start_salved "$WORK/p.json" --rate 100/200
storm 1
crash_now "faults off"
wait "$LAST_PID" || fail "faultloop failed: $(cat "$WORK/storm.out")"
off_faults=$(field "$WORK/storm.out" faults)
drain
[ "$(count_events ".pid == $spid")" = 0 ] || fail "\"faults\": \"fatal\" still reported caught faults"
stats=$(jq -c 'select(.kind == "stats")' "$EVENTS" | tail -n1)
expect "$stats" .events.signal.suppressed 0
expect "$stats" .events.signal.seen 1
pass "$faults caught faults in ${secs}s: $reported reported, $suppressed suppressed, 0 lost, a crash reported; $off_faults with faults off: none"
