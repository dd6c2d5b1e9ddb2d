#!/usr/bin/env bash
# A NULL-page write in a named function: one signal event with SIGSEGV, SEGV_MAPERR, the
# address the target printed and the function in the innermost frame; then an exit
# event whose core_dumped matches the core limit the test set (none, then unlimited).
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "crash-null",
 "scope": {"binaries": ["'"$TARGETS/crash"'"]},
 "probes": [{"id": "crashes", "kind": "signal"}, {"id": "exits", "kind": "exit", "nonzero": true}]}'
start_salved "$WORK/p.json"

for core in 0 unlimited; do
	( ulimit -c "$core"; cd "$WORK" && exec "$TARGETS/crash" null ) > "$WORK/out" 2>&1
	pid=$(field "$WORK/out" pid)
	addr=$(field "$WORK/out" addr)
	[ -n "$pid" ] && [ -n "$addr" ] || fail "target printed no pid/addr: $(cat "$WORK/out")"

	ev=$(wait_event ".kind == \"signal\" and .pid == $pid") || fail "no signal event for pid $pid"
	expect "$ev" .probe crashes
	expect "$ev" .signal SIGSEGV
	expect "$ev" .code SEGV_MAPERR
	expect "$ev" .addr "$addr"
	expect "$ev" .tid "$pid"
	expect "$ev" .sender_pid "$pid"
	expect "$ev" .fatal true
	expect "$ev" .exe "$TARGETS/crash"
	expect "$ev" .comm crash
	expect "$ev" '.stack[0].symbol' fault_null_deref
	expect "$ev" '.stack[0].module' "$TARGETS/crash"
	expect "$ev" '.stack[0].ip == .ip' true
	expect "$ev" '.stack[0].build_id' "$(readelf -n "$TARGETS/crash" | sed -n 's/.*Build ID: *//p')"
	jq -e '.stack | map(.symbol) | index("main") != null' <<<"$ev" >/dev/null ||
		fail "main is not on the stack: $ev"
	jq -e '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z$")' <<<"$ev" >/dev/null ||
		fail "time is not RFC 3339 with nanoseconds: $ev"

	ex=$(wait_event ".kind == \"exit\" and .pid == $pid") || fail "no exit event for pid $pid"
	expect "$ex" .probe exits
	expect "$ex" .signal SIGSEGV
	expect "$ex" .exit_code null
	if [ "$core" = 0 ]; then expect "$ex" .core_dumped false; else expect "$ex" .core_dumped true; fi
	[ "$(count_events ".pid == $pid and .kind == \"signal\"")" = 1 ] || fail "more than one signal event"
done
pass "SIGSEGV reported with address, stack and core state"
