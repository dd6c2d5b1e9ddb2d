#!/usr/bin/env bash
# A failed assert(): one abort event with the expression, file, line and function;
# a plain abort(): one abort event without them.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "aborts",
 "scope": {"binaries": ["'"$TARGETS/crash"'"]},
 "probes": [{"id": "asserts", "kind": "abort"}]}'
start_salved "$WORK/p.json"

( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash" assert ) > "$WORK/out" 2>&1
pid=$(field "$WORK/out" pid)
ev=$(wait_event ".pid == $pid") || fail "no abort event for the failed assert"
line=$(grep -n 'assert(x == 42' "$ROOT/tests/targets/crash.c" | cut -d: -f1)
expect "$ev" .kind abort
expect "$ev" .probe asserts
expect "$ev" .assertion 'x == 42 && "value must be 42"'
expect "$ev" .file tests/targets/crash.c
expect "$ev" .line "$line"
expect "$ev" .function fault_assert
expect "$ev" .exe "$TARGETS/crash"
expect "$ev" .site.symbol __assert_fail
jq -e '.site.module | test("/libc\\.so\\.6$")' <<<"$ev" >/dev/null || fail "__assert_fail not in libc: $ev"
jq -e '.stack | map(.symbol) | index("fault_assert") != null' <<<"$ev" >/dev/null ||
	fail "fault_assert is not on the stack: $ev"

( ulimit -c 0; cd "$WORK"; exec "$TARGETS/crash" abort ) > "$WORK/out" 2>&1
plain=$(field "$WORK/out" pid)
ev=$(wait_event ".pid == $plain") || fail "no abort event for abort()"
expect "$ev" '.assertion // "none"' none
expect "$ev" .site.symbol abort
drain
[ "$(count_events ".pid == $pid")" = 1 ] || fail "the failed assert gave $(count_events ".pid == $pid") events"
[ "$(count_events ".pid == $plain")" = 1 ] || fail "abort() gave $(count_events ".pid == $plain") events"
pass "failed assert with its expression, file, line and function; plain abort"
